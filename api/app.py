"""The HTTP API: upload, follow a batch, read reports (canonical JSON, cells, checks), re-run, export,
health and Prometheus metrics. Writes need an API token with a role (`gouji token create`); reads are
open. The API stores and enqueues; the pipeline's own functions do the work, in-process or on workers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, SummaryMetricFamily
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gouji.api.deps import Db
from gouji.api.report_bodies import ReportBodies
from gouji.api.ui import HERE, review_error_response, ui_router
from gouji.schemas.report import Report
from gouji.worker.llm.config import LLMConfig, from_env
from gouji.worker.service.export import FORMATS, MEDIA_TYPES, export_bytes
from gouji.worker.service.pipeline import FINAL_STATES, add_document, batch, process, request_work
from gouji.worker.service.review import ReviewError
from gouji.worker.service.status import status_lines
from gouji.worker.service.tasks import broker_url, enqueue, queue_depths
from gouji.worker.service.tokens import GRANTS, lookup
from gouji.worker.store.db import database_url, session
from gouji.worker.store.models import (
    Batch,
    BatchDocument,
    CheckRow,
    CrossYearCheck,
    Document,
    ExtractionRun,
    ReportVersion,
    ReviewTask,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES = 1000
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024
MAX_RATIO = 200  # compressed → uncompressed: a higher ratio is a zip bomb, not a report


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


def role(grant: str) -> Any:
    """A dependency that admits only a valid, unrevoked token whose role grants `grant`."""

    def check(s: Db, authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "an API token is required: Authorization: Bearer <token>")
        token = lookup(s, authorization.removeprefix("Bearer ").strip())
        if token is None:
            raise HTTPException(401, "unknown or revoked API token")
        if grant not in GRANTS.get(token.role, frozenset()):
            raise HTTPException(403, f"role {token.role!r} may not {grant}")
        return token.name

    return Depends(check)


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several worker processes (they read GOUJI_DATABASE_URL)."""
    return create_app(database_url())


def create_app(db_url: str) -> FastAPI:
    app = FastAPI(title="gouji", version="0.1.0", description=__doc__)
    app.state.db_url = db_url
    bodies = ReportBodies(db_url)

    def _llm(wanted: bool) -> LLMConfig | None:
        cfg = from_env() if wanted else None
        if wanted and cfg is None:
            raise HTTPException(400, "llm=true but the server has no GOUJI_LLM_* configuration")
        return cfg

    def _dispatch(s: Session, doc: Document, cfg: LLMConfig | None) -> None:
        """Queue the document for the workers when a broker is configured, else process it here."""
        request_work(doc, cfg)
        s.commit()  # the request is durable before a worker may look for it
        if broker_url():
            enqueue(doc.id, cfg is not None, db_url)
        else:
            process(s, doc, cfg)

    @app.get("/healthz")
    def healthz(s: Db) -> dict[str, str]:
        s.execute(select(1))
        return {"status": "ok"}

    @app.post("/batches/{name}/documents", response_model=UploadOut)
    def upload(
        name: str, s: Db, files: Annotated[list[UploadFile], File()], who: str = role("upload"), llm: bool = False
    ) -> UploadOut:
        cfg = _llm(llm)
        entries, rejected = _unpack(files)
        b = batch(s, name)
        accepted = []
        for file_name, data in entries:
            doc, _ = add_document(s, data, file_name, b)
            _dispatch(s, doc, cfg)
            s.commit()
            accepted.append(_doc_out(doc))
        return UploadOut(batch=name, accepted=accepted, rejected=rejected)

    @app.get("/batches/{name}", response_model=BatchOut)
    def batch_status(name: str, s: Db) -> BatchOut:
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

    @app.get("/documents", response_model=list[DocumentOut])
    def documents(
        s: Db,
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
        return [_doc_out(d) for d in s.scalars(q)]

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

    @app.get("/documents/{doc_id}", response_model=DocumentOut)
    def document(doc_id: DocId, s: Db) -> DocumentOut:
        return _doc_out(_document(s, doc_id))

    @app.get(
        "/documents/{doc_id}/report",
        responses={200: {"content": {"application/json": {}}, "description": "The canonical report (docs/spec.md §7)"}},
    )
    async def report(
        doc_id: DocId, request: Request, version: Annotated[int | None, Query(ge=1, le=10**6)] = None
    ) -> Response:
        # The hottest read: async, so it skips the thread pool; its two indexed lookups take well under a
        # millisecond, which the event loop can afford (bench/service.py measures it).
        body = bodies.get(doc_id, version)
        if body is None:
            with session(db_url) as s:
                _version(s, doc_id, version)  # raises the precise 404
            raise HTTPException(404, f"document {doc_id} has no report")
        headers = {"ETag": body.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == body.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                body.gzipped, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"}
            )
        return Response(body.json, media_type="application/json", headers=headers)

    @app.get("/documents/{doc_id}/cells")
    def cells(doc_id: DocId, s: Db, version: Annotated[int | None, Query(ge=1, le=10**6)] = None) -> dict[str, Any]:
        return Report.model_validate(_version(s, doc_id, version).report).cells_document()

    @app.get("/documents/{doc_id}/checks")
    def checks(
        doc_id: DocId, s: Db, version: Annotated[int | None, Query(ge=1, le=10**6)] = None
    ) -> list[dict[str, Any]]:
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

    @app.get("/documents/{doc_id}/cross-year")
    def cross_year(doc_id: DocId, s: Db) -> list[dict[str, Any]]:
        """X.* checks against the agency's neighbouring years, where they are stored."""
        ids = [v.id for v in _document(s, doc_id).versions]
        rows = s.scalars(
            select(CrossYearCheck).where(
                CrossYearCheck.prev_version_id.in_(ids) | CrossYearCheck.cur_version_id.in_(ids)
            )
        )
        return [{"year_prev": r.year_prev, "year": r.year, "failed": r.failed, "checks": r.checks} for r in rows]

    @app.post("/documents/{doc_id}/rerun", response_model=DocumentOut)
    def rerun(doc_id: DocId, s: Db, who: str = role("upload"), llm: bool = False) -> DocumentOut:
        doc = _document(s, doc_id)
        _dispatch(s, doc, _llm(llm))
        return _doc_out(doc)

    @app.get("/export.{fmt}", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
    def export(fmt: str, s: Db, batch: str | None = None) -> Response:
        if fmt not in FORMATS:
            raise HTTPException(404, f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
        data = export_bytes(s, fmt, batch)
        name = f"gouji{'-' + batch if batch else ''}.{fmt}"
        return Response(
            data, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    @app.get("/status")
    def status(s: Db, batch: str | None = None) -> dict[str, list[str]]:
        return {"lines": status_lines(s, batch)}

    @app.get("/metrics")
    def metrics() -> Response:
        registry = CollectorRegistry()
        registry.register(_Collector(db_url))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(ui_router())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(ReviewError, review_error_response)  # type: ignore[arg-type]
    return app


class _Collector:
    """Metrics read from the database at scrape time: right across any number of workers and machines."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    def collect(self) -> Iterator[GaugeMetricFamily | SummaryMetricFamily]:
        with session(self.db_url) as s:
            docs = GaugeMetricFamily("gouji_documents", "Documents by state", labels=["state"])
            counts = dict(s.execute(select(Document.state, func.count()).group_by(Document.state)).all())
            for state in ("received", *FINAL_STATES):
                docs.add_metric([state], counts.get(state, 0))
            yield docs
            backlog = s.scalar(select(func.count()).select_from(ReviewTask).where(ReviewTask.state == "open")) or 0
            yield GaugeMetricFamily("gouji_review_backlog", "Open review tasks", value=backlog)
            tokens = GaugeMetricFamily("gouji_llm_tokens", "LLM tokens recorded in runs", labels=["direction"])
            cost = 0.0
            t_in = t_out = 0
            for usage in s.scalars(select(ExtractionRun.usage)):
                if not usage:
                    continue
                t_in += int(usage.get("input_tokens", 0))
                t_out += int(usage.get("output_tokens", 0))
                cost += float(usage.get("cost_usd") or 0)
            tokens.add_metric(["input"], t_in)
            tokens.add_metric(["output"], t_out)
            yield tokens
            yield GaugeMetricFamily("gouji_llm_cost_usd", "Estimated LLM cost of recorded runs", value=cost)
            stages = SummaryMetricFamily(
                "gouji_stage_seconds", "Time per pipeline stage (recorded runs)", labels=["stage"]
            )
            totals: dict[str, list[float]] = {}
            for timings in s.scalars(select(ExtractionRun.timings)):
                for stage, seconds in (timings or {}).items():
                    totals.setdefault(stage, []).append(float(seconds))
            for stage, xs in sorted(totals.items()):
                stages.add_metric([stage], count_value=len(xs), sum_value=sum(xs))
            yield stages
        depth = queue_depths()
        if depth:
            queues = GaugeMetricFamily("gouji_queue_depth", "Messages waiting per Celery queue", labels=["queue"])
            for q, n in depth.items():
                queues.add_metric([q], n)
            yield queues


def _doc_out(doc: Document) -> DocumentOut:
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


def _unpack(files: list[UploadFile]) -> tuple[list[tuple[str, bytes]], list[dict[str, str]]]:
    """Files and the files inside zips, with every bound enforced; refusals are named, never fatal."""
    out: list[tuple[str, bytes]] = []
    rejected: list[dict[str, str]] = []
    for f in files:
        name = f.filename or "upload"
        data = f.file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            rejected.append({"file": name, "problem": f"larger than {MAX_FILE_BYTES // 2**20} MiB"})
            continue
        if not (name.lower().endswith(".zip") or (data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)))):
            out.append((name, data))
            continue
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as e:
            rejected.append({"file": name, "problem": f"not a readable zip: {e}"})
            continue
        infos = [i for i in zf.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        problem = None
        if len(infos) > MAX_FILES:
            problem = f"more than {MAX_FILES} files"
        elif total > MAX_UNZIPPED_BYTES or any(
            i.compress_size and i.file_size / i.compress_size > MAX_RATIO for i in infos
        ):
            problem = "unpacks to too much data for its size (zip bomb)"
        elif any(i.filename.startswith(("/", "\\")) or ".." in i.filename.replace("\\", "/").split("/") for i in infos):
            problem = "contains paths outside the archive (../ or absolute)"
        if problem:
            rejected.append({"file": name, "problem": problem})
            continue
        for i in infos:
            out.append((f"{name}/{i.filename}", zf.read(i)))
    return out, rejected
