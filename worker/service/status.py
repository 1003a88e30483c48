"""What a batch looks like now, read from the database (counters, not a message broker's memory)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gouji.worker.store.models import Batch, BatchDocument, Document, Failure, ReviewTask


def status_lines(s: Session, batch_name: str | None = None) -> list[str]:
    query = select(Document.state, func.count()).group_by(Document.state)
    scope = "all documents"
    if batch_name is not None:
        b = s.scalar(select(Batch).where(Batch.name == batch_name))
        if b is None:
            return [f"no batch named {batch_name!r}"]
        query = query.join(BatchDocument, BatchDocument.document_id == Document.id).where(
            BatchDocument.batch_id == b.id
        )
        scope = f"batch {batch_name}"
    counts = dict(s.execute(query).all())
    lines = [f"{scope}: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "empty")]
    open_tasks = s.scalar(select(func.count()).select_from(ReviewTask).where(ReviewTask.state == "open")) or 0
    lines.append(f"open review tasks: {open_tasks}")
    for f in s.scalars(select(Failure).order_by(Failure.id.desc()).limit(10)):
        lines.append(f"failure: {f.file_name}: {f.stage}: {f.error}")
    return lines
