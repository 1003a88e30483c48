"""Asking for a document to be processed: the one way the command line and the API both do it.

The request is recorded in the database and committed before anything else happens, so whatever becomes
of a message afterwards (a broker flushed, a publish lost, a worker killed), `requeue` finds it. Then the
document goes to the Celery workers when the settings name a broker, or is processed here and now.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gouji.worker.llm.config import LLMConfig
from gouji.worker.service.pipeline import Outcome, process, request_work
from gouji.worker.service.tasks import enqueue
from gouji.worker.settings import Settings
from gouji.worker.store.models import Document

QUEUED = "queued"


def submit(s: Session, settings: Settings, doc: Document, llm: LLMConfig | None) -> Outcome:
    """Process `doc` (LLM path when `llm` is given): queued for the workers, or run in this process."""
    request_work(doc, llm)
    s.commit()  # the request is durable before a worker may look for the document
    if settings.broker_url:
        enqueue(settings, doc.id, llm is not None)
        return Outcome(doc.file_name, doc.id, QUEUED)
    return process(s, doc, settings, llm)
