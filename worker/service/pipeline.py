"""The stages a document goes through, as plain functions over a database session.

ingest → read → extract → (LLM, fuse) → check → store → route, each once: reading is worker/read/, the
three pure stages are worker/stages.py, and this module stores and routes what they return. Each stage
is idempotent: a document is keyed by the SHA-256 of its bytes, a run by (document, configuration
fingerprint), so running a stage again (a redelivered task, a re-run of a batch) finds what it made
before instead of making it twice. The same functions run in-process (the embedded default)
and inside Celery tasks; a failure lands in the dead-letter table with its stage and traceback.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gouji.schemas.report import Report, notable_failures
from gouji.worker.errors import InputError
from gouji.worker.extract.report import EXTRACTOR
from gouji.worker.llm.config import LLMConfig
from gouji.worker.read import read_bytes
from gouji.worker.service.agencies import link
from gouji.worker.service.routing import Routing
from gouji.worker.settings import Settings
from gouji.worker.stages import read_report
from gouji.worker.store.models import (
    Batch,
    BatchDocument,
    CellRow,
    CheckRow,
    Document,
    ExtractionRun,
    Failure,
    ReportVersion,
    ReviewTask,
    now,
)


@dataclass(frozen=True)
class Outcome:
    file_name: str
    document_id: int | None
    state: str
    new_document: bool = False
    new_version: bool = False
    detail: str | None = None


def batch(s: Session, name: str) -> Batch:
    """The batch called `name`, created if new; concurrent first uploads to one new name make one batch."""
    found = s.scalar(select(Batch).where(Batch.name == name))
    if found is None:
        try:
            with s.begin_nested():  # another request may create the same name between our select and insert
                found = Batch(name=name)
                s.add(found)
        except IntegrityError:
            found = s.scalar(select(Batch).where(Batch.name == name))
            assert found is not None
    return found


def add_document(s: Session, data: bytes, file_name: str, in_batch: Batch | None = None) -> tuple[Document, bool]:
    """The document for these bytes, created if new; the same file twice is one document."""
    sha = hashlib.sha256(data).hexdigest()
    doc = s.scalar(select(Document).where(Document.sha256 == sha))
    created = False
    if doc is None:
        try:
            with s.begin_nested():  # a concurrent ingest of the same bytes may win the unique key
                doc = Document(sha256=sha, file_name=file_name, size=len(data), content=data)
                s.add(doc)
            created = True
        except IntegrityError:
            doc = s.scalar(select(Document).where(Document.sha256 == sha))
            assert doc is not None
    if in_batch is not None and s.get(BatchDocument, (in_batch.id, doc.id)) is None:
        s.add(BatchDocument(batch_id=in_batch.id, document_id=doc.id, file_name=file_name))
    s.flush()
    return doc, created


def request_work(doc: Document, llm: LLMConfig | None) -> None:
    """Record, before any message is sent, that `doc` is to be processed (and whether by the LLM path)."""
    doc.pending_since = now()
    doc.wants_llm = llm is not None


def fingerprint(llm: LLMConfig | None) -> str:
    return llm.fingerprint() if llm is not None else hashlib.sha256(EXTRACTOR.encode()).hexdigest()[:16]


def process(s: Session, doc: Document, settings: Settings, llm: LLMConfig | None = None) -> Outcome:
    """Read, extract, (LLM, fuse,) check, store and route one document; a no-op if this configuration ran."""
    fp = fingerprint(llm)
    run = s.scalar(select(ExtractionRun).where(ExtractionRun.document_id == doc.id, ExtractionRun.fingerprint == fp))
    if run is not None and run.finished_at is not None:
        doc.pending_since = None
        return Outcome(doc.file_name, doc.id, doc.state, detail="unchanged: already processed with this configuration")
    if run is None:
        run = ExtractionRun(
            document_id=doc.id, fingerprint=fp, config=llm.public() if llm else {"extractor": EXTRACTOR}
        )
        s.add(run)
        s.flush()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        timings[stage] = round(time.perf_counter() - clock, 4)
        clock = time.perf_counter()

    try:
        normalised = read_bytes(doc.content, doc.file_name, settings.read_options())
    except InputError as e:
        return _fail(s, doc, run, "read", e.problem, None)
    except Exception as e:  # a reader's bug on one file is that file's dead letter, never a lost batch
        return _fail(s, doc, run, "read", describe(e), traceback.format_exc())
    doc.media_type = normalised.media_type
    doc.text = normalised.text
    doc.pages = [asdict(p) for p in normalised.pages] or None
    lap("read")
    try:
        report = read_report(normalised, llm, lap=lap)
    except Exception as e:  # a crash on one document is a dead letter, never a lost batch
        return _fail(s, doc, run, "extract", describe(e), traceback.format_exc())
    doc.agency, doc.report_year = report.report.agency, report.report.report_year
    doc.template_version = report.template_version
    version = store_version(s, doc, run, report, "extractor")
    link(s, doc)
    lap("store")
    routing = Routing.from_settings(settings)
    reasons = routing.reasons(report, doc.sha256)
    if report.refused is not None:
        doc.state = "refused"
        doc.error = f"{report.refused.code}: {report.refused.detail}"
    elif reasons:
        doc.state = "review"
        s.add(
            ReviewTask(
                document_id=doc.id,
                version_id=version.id,
                reasons=reasons,
                second_review=routing.second_review(doc.sha256),
            )
        )
    else:
        doc.state = "accepted"
    run.usage = (report.llm or {}).get("ledger")
    lap("route")
    run.timings = timings
    run.finished_at = now()
    doc.pending_since = None
    s.flush()
    failed = list(
        dict.fromkeys(
            c.id + (f" {c.lhs} ≠ {c.rhs}" if c.lhs is not None else "") for c in notable_failures(report.checks)
        )
    )
    notes = [f"review: {', '.join(reasons)}"] * bool(reasons) + [f"checks failed: {', '.join(failed)}"] * bool(failed)
    if report.refused is not None:
        notes = [doc.error or "refused"]
    return Outcome(doc.file_name, doc.id, doc.state, new_version=True, detail="; ".join(notes) or None)


def describe(e: BaseException) -> str:
    """An unexpected error in one line: its kind, and its message when it has one."""
    text = str(e)
    return type(e).__name__ if text in ("", f"{type(e).__name__}()") else f"{type(e).__name__}: {text}"


def _fail(s: Session, doc: Document, run: ExtractionRun, stage: str, error: str, tb: str | None) -> Outcome:
    doc.state, doc.error = "failed", f"{stage}: {error}"
    s.add(Failure(document_id=doc.id, file_name=doc.file_name, stage=stage, error=error, traceback=tb))
    run.finished_at = now()
    doc.pending_since = None
    s.flush()
    return Outcome(doc.file_name, doc.id, "failed", detail=error)


def store_version(s: Session, doc: Document, run: ExtractionRun | None, report: Report, origin: str) -> ReportVersion:
    """A new, append-only version with its cells and checks materialised for querying."""
    last = s.scalar(select(func.max(ReportVersion.version_no)).where(ReportVersion.document_id == doc.id)) or 0
    data: dict[str, Any] = report.model_dump(mode="json", by_alias=True)
    version = ReportVersion(
        document_id=doc.id, run_id=run.id if run else None, version_no=last + 1, origin=origin, report=data
    )
    s.add(version)
    s.flush()
    cells = [
        {
            "version_id": version.id,
            "key": key,
            "value": None if cell.value is None else str(cell.value),
            "status": cell.status,
            "raw": cell.raw,
            "unit": cell.unit,
            "flags": list(cell.flags),
            "span_start": cell.prov.start if cell.prov else None,
            "span_end": cell.prov.end if cell.prov else None,
        }
        for key, cell in report.flat_cells().items()
    ]
    checks = [
        {
            "version_id": version.id,
            "check_id": c.id,
            "args": c.args,
            "severity": c.severity,
            "status": c.status,
            "lenient": c.lenient,
            "lhs": None if c.lhs is None else str(c.lhs),
            "rhs": None if c.rhs is None else str(c.rhs),
            "source_anomaly": c.source_anomaly,
        }
        for c in report.checks
    ]
    if cells:  # bulk inserts: a report has ~200 cells and ~150 checks
        s.execute(insert(CellRow), cells)
    if checks:
        s.execute(insert(CheckRow), checks)
    return version


def record_failure(s: Session, file_name: str, stage: str, error: str, in_batch: Batch | None = None) -> Outcome:
    s.add(Failure(file_name=file_name, stage=stage, error=error, batch_id=in_batch.id if in_batch else None))
    s.flush()
    return Outcome(file_name, None, "failed", detail=error)
