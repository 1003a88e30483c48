"""The JSON API of batches and documents: upload, follow a batch, read reports (canonical JSON, cells,
checks, cross-year checks) and re-run. Writes need an API token with a role (`gouji token create`);
reads need a token too (any role; GOUJI_PUBLIC_READ publishes them). The API stores and submits; the service does the work, in-process or on workers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gouji.api.deps import AppSettings, Db, Reader, role
from gouji.api.errors import documented
from gouji.api.uploads import Refused, name_problem, unpack
from gouji.schemas.report import Report
from gouji.worker.service.pipeline import add_document, batch
from gouji.worker.service.submit import submit
from gouji.worker.store.db import session
from gouji.worker.store.models import Batch, BatchDocument, CheckRow, CrossYearCheck, Document, ReportVersion

router = APIRouter(responses=documented(401, 403, 404, 422))


class DocumentOut(BaseModel):
    id: int
    file_name: str
    state: str
    agency: str | None
    report_year: int | None
    template_version: str | None
    error: str | None
    versions: list[int]


class BatchOut(BaseModel):
    name: str
    documents: int
    states: dict[str, int]


class UploadOut(BaseModel):
    batch: str
    accepted: list[DocumentOut]
    rejected: list[dict[str, str]]


DocId = Annotated[int, PathParam(ge=1, le=2**62)]
Version = Annotated[int | None, Query(ge=1, le=10**6)]


def document_out(doc: Document) -> DocumentOut:
    return DocumentOut(
        id=doc.id,
        file_name=doc.file_name,
        state=doc.state,
        agency=doc.agency,
        report_year=doc.report_year,
        template_version=doc.template_version,
        error=doc.error,
        versions=[v.version_no for v in doc.versions],
    )


def _document(s: Session, doc_id: int) -> Document:
    doc = s.get(Document, doc_id)
    if doc is None:
        raise HTTPException(404, f"no document {doc_id}")
    return doc


def _version(s: Session, doc_id: int, version: int | None) -> ReportVersion:
    doc = _document(s, doc_id)
    if not doc.versions:
        raise HTTPException(404, f"document {doc_id} has no report yet (state {doc.state})")
    if version is None:
        return doc.versions[-1]
    found = next((v for v in doc.versions if v.version_no == version), None)
    if found is None:
        raise HTTPException(404, f"document {doc_id} has no version {version}")
    return found


def _batch_name(name: str) -> str:
    """A batch name that fits the database and is printable: anything else is the client's error (422)."""
    problem = "name longer than 200 characters" if len(name) > 200 else name_problem(name)
    if problem is not None:
        raise HTTPException(422, f"batch {problem}")
    return name


BatchName = Annotated[str, PathParam(min_length=1, max_length=1000)]


@router.post("/batches/{name}/documents", response_model=UploadOut)
def upload(
    name: BatchName,
    s: Db,
    settings: AppSettings,
    files: Annotated[list[UploadFile], File()],
    who: str = role("upload"),
    llm: bool = False,
) -> UploadOut:
    """Store each file (or each file inside a zip) and process it; every file is stored or named in
    `rejected` with its problem, and one file's failure never costs the others."""
    cfg = settings.llm_config(llm)
    b = batch(s, _batch_name(name))
    s.commit()
    accepted: list[DocumentOut] = []
    rejected: list[dict[str, str]] = []
    for item in unpack(files):
        if isinstance(item, Refused):
            rejected.append({"file": item.name, "problem": item.problem})
            continue
        try:
            doc, _ = add_document(s, item.data, item.name, b)
            submit(s, settings, doc, cfg)
            s.commit()
        except Exception as e:  # stored files stay stored; this one is named with what went wrong
            s.rollback()
            rejected.append({"file": item.name, "problem": f"could not be stored: {type(e).__name__}: {e}"})
            continue
        accepted.append(document_out(doc))
    return UploadOut(batch=name, accepted=accepted, rejected=rejected)


@router.get("/batches/{name}", response_model=BatchOut)
def batch_status(name: BatchName, s: Db, who: Reader) -> BatchOut:
    b = s.scalar(select(Batch).where(Batch.name == name))
    if b is None:
        raise HTTPException(404, f"no batch named {name!r}")
    rows = s.execute(
        select(Document.state, func.count())
        .join(BatchDocument)
        .where(BatchDocument.batch_id == b.id)
        .group_by(Document.state)
    ).all()
    states = dict(rows)
    return BatchOut(name=name, documents=sum(states.values()), states=states)


@router.get("/documents", response_model=list[DocumentOut])
def documents(
    s: Db,
    who: Reader,
    state: str | None = None,
    agency: str | None = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[DocumentOut]:
    q = select(Document).order_by(Document.id).limit(limit).offset(offset)
    if state:
        q = q.where(Document.state == state)
    if agency:
        q = q.where(Document.agency == agency)
    if year is not None:
        q = q.where(Document.report_year == year)
    return [document_out(d) for d in s.scalars(q)]


@router.get("/documents/{doc_id}", response_model=DocumentOut)
def document(doc_id: DocId, s: Db, who: Reader) -> DocumentOut:
    return document_out(_document(s, doc_id))


@router.get(
    "/documents/{doc_id}/report",
    responses={
        200: {"content": {"application/json": {}}, "description": "The canonical report (docs/spec.md §7)"},
        304: {"description": "not modified since the ETag sent in If-None-Match"},
    },
)
async def report(doc_id: DocId, request: Request, who: Reader, version: Version = None) -> Response:
    # The hottest read: async, so it skips the thread pool; its two indexed lookups take well under a
    # millisecond, which the event loop can afford (bench/service.py measures it).
    body = request.app.state.report_bodies.get(doc_id, version)
    if body is None:
        with session(request.app.state.settings.database_url) as s:
            _version(s, doc_id, version)  # raises the precise 404
        raise HTTPException(404, f"document {doc_id} has no report")
    headers = {"ETag": body.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == body.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(body.gzipped, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(body.json, media_type="application/json", headers=headers)


@router.get("/documents/{doc_id}/cells")
def cells(doc_id: DocId, s: Db, who: Reader, version: Version = None) -> dict[str, Any]:
    return Report.model_validate(_version(s, doc_id, version).report).cells_document()


@router.get("/documents/{doc_id}/checks")
def checks(doc_id: DocId, s: Db, who: Reader, version: Version = None) -> list[dict[str, Any]]:
    v = _version(s, doc_id, version)
    return [
        {
            "id": c.check_id,
            "args": c.args,
            "severity": c.severity,
            "status": c.status,
            "lenient": c.lenient,
            "lhs": c.lhs,
            "rhs": c.rhs,
            "source_anomaly": c.source_anomaly,
        }
        for c in s.scalars(select(CheckRow).where(CheckRow.version_id == v.id).order_by(CheckRow.id))
    ]


@router.get("/documents/{doc_id}/cross-year")
def cross_year(doc_id: DocId, s: Db, who: Reader) -> list[dict[str, Any]]:
    """X.* checks against the agency's neighbouring years, where they are stored."""
    ids = [v.id for v in _document(s, doc_id).versions]
    rows = s.scalars(
        select(CrossYearCheck).where(CrossYearCheck.prev_version_id.in_(ids) | CrossYearCheck.cur_version_id.in_(ids))
    )
    return [{"year_prev": r.year_prev, "year": r.year, "failed": r.failed, "checks": r.checks} for r in rows]


@router.post("/documents/{doc_id}/rerun", response_model=DocumentOut)
def rerun(doc_id: DocId, s: Db, settings: AppSettings, who: str = role("upload"), llm: bool = False) -> DocumentOut:
    doc = _document(s, doc_id)
    submit(s, settings, doc, settings.llm_config(llm))
    return document_out(doc)
