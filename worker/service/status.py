"""What a batch looks like now, read from the database (counters, not a message broker's memory)."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gouji.worker.store.models import Batch, BatchDocument, Document, Failure, ReviewTask


def status_lines(s: Session, batch_name: str | None = None) -> list[str]:
    """Documents per state, open review tasks and the newest failures — of one batch when it is named."""
    query = select(Document.state, func.count()).group_by(Document.state)
    tasks = select(func.count()).select_from(ReviewTask).where(ReviewTask.state == "open")
    failures = select(Failure).order_by(Failure.id.desc()).limit(10)
    scope = "all documents"
    if batch_name is not None:
        b = s.scalar(select(Batch).where(Batch.name == batch_name))
        if b is None:
            return [f"no batch named {batch_name!r}"]
        in_batch = select(BatchDocument.document_id).where(BatchDocument.batch_id == b.id)
        query = query.where(Document.id.in_(in_batch))
        tasks = tasks.where(ReviewTask.document_id.in_(in_batch))
        failures = failures.where(or_(Failure.batch_id == b.id, Failure.document_id.in_(in_batch)))
        scope = f"batch {batch_name}"
    counts = dict(s.execute(query).all())
    lines = [f"{scope}: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "empty")]
    lines.append(f"open review tasks: {s.scalar(tasks) or 0}")
    for f in s.scalars(failures):
        lines.append(f"failure: {f.file_name}: {f.stage}: {f.error}")
    return lines
