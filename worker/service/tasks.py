"""Celery tasks: the pipeline's stages run by workers, with Redis carrying messages and the database
holding every result.

Delivery is at-least-once by design: `acks_late` with `task_reject_on_worker_lost` puts a task back
on the queue when its worker dies (kill -9, OOM, a lost machine), and every task is idempotent (keyed
by content hash and configuration fingerprint in the database), so running it twice stores it once.
`visibility_timeout` is above the longest task: a task that outlived it would be handed to a second
worker while the first still runs. Prefetch is 1, so a slow LLM call never holds queued work hostage.
Transient failures are retried with exponential backoff and jitter; what still fails is a dead letter.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from gouji.worker.llm.config import from_env
from gouji.worker.llm.errors import LLMError
from gouji.worker.service.pipeline import process
from gouji.worker.store.db import database_url, session
from gouji.worker.store.models import Document, Failure

QUEUES = ("cpu", "llm", "db")
# The longest task (an LLM-read report with repairs) stays far below this; tests lower it to see a
# killed worker's tasks come back quickly (GOUJI_VISIBILITY_TIMEOUT).
VISIBILITY_TIMEOUT_S = int(os.environ.get("GOUJI_VISIBILITY_TIMEOUT", "3600"))
MAX_RETRIES = 5


def broker_url() -> str | None:
    return os.environ.get("GOUJI_BROKER_URL")


app = Celery("gouji", broker=broker_url() or "redis://127.0.0.1:6379/0")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    task_default_queue="cpu",
    task_ignore_result=True,  # results live in the database, not in the broker
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(bind=True, name="gouji.process", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def process_task(self: Any, document_id: int, use_llm: bool = False, db_url: str | None = None) -> str:
    """Normalise, extract, validate, store and route one stored document (idempotent).

    The LLM configuration comes from the worker's own environment: API keys never travel in messages.
    """
    url = db_url or database_url()
    cfg = from_env() if use_llm else None
    if use_llm and cfg is None:
        _dead_letter(url, document_id, LLMError("config", "this worker has no GOUJI_LLM_* configuration"), 1)
        return "failed"
    try:
        with session(url) as s:
            doc = s.get(Document, document_id)
            if doc is None:
                return "missing"
            return process(s, doc, cfg).state
    except (OperationalError, IntegrityError, LLMError) as e:  # IntegrityError: a concurrent insert won a key
        if isinstance(e, LLMError) and e.kind not in ("rate_limited", "server_error", "timeout", "connection"):
            _dead_letter(url, document_id, e, self.request.retries + 1)
            raise
        if self.request.retries >= MAX_RETRIES:
            _dead_letter(url, document_id, e, self.request.retries + 1)
            raise
        backoff = min(2**self.request.retries, 60) * (0.5 + random.random())  # exponential, with jitter
        raise self.retry(exc=e, countdown=backoff) from e
    except Exception as e:  # anything else: a dead letter, never a document silently left behind
        _dead_letter(url, document_id, e, self.request.retries + 1)
        raise


def _dead_letter(url: str, document_id: int, e: BaseException, attempts: int) -> None:
    with session(url) as s:
        doc = s.get(Document, document_id)
        s.add(
            Failure(
                document_id=document_id,
                file_name=doc.file_name if doc else "?",
                stage="process",
                error=f"{type(e).__name__}: {e}",
                attempts=attempts,
            )
        )
        if doc is not None:
            doc.state, doc.error, doc.pending_since = "failed", f"process: {e}", None


def enqueue(document_id: int, use_llm: bool, db_url: str) -> None:
    process_task.apply_async(args=[document_id, use_llm, db_url], queue="llm" if use_llm else "cpu")


def requeue(db_url: str, older_than: float, *, queue: bool) -> list[int]:
    """Process again every document whose requested work has not finished after `older_than` seconds.

    The database is the system of record: whatever happened to a message (a broker flushed, a publish
    lost between commit and send), a pending request is found here and sent again, on the path (LLM or
    not) it was asked for. Processing is idempotent, so a request that was merely slow costs nothing.
    With `queue` false the work runs in this process (the embedded mode has no workers). A queue that
    still holds messages is left alone (its documents may simply be waiting their turn), and a request
    sent again counts as pending from now, so a periodic run does not pile up copies.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    busy = {q for q, n in queue_depths().items() if n} if queue else set()
    with session(db_url) as s:
        rows = s.execute(
            select(Document.id, Document.wants_llm).where(Document.pending_since < cutoff).order_by(Document.id)
        ).all()
        stuck = [(i, llm) for i, llm in rows if ("llm" if llm else "cpu") not in busy]
        if queue:
            s.execute(
                update(Document).where(Document.id.in_([i for i, _ in stuck])).values(pending_since=datetime.now(UTC))
            )
    for doc_id, wants_llm in stuck:
        if queue:
            enqueue(doc_id, wants_llm, db_url)
            continue
        cfg = from_env() if wants_llm else None
        with session(db_url) as s:
            doc = s.get(Document, doc_id)
            if doc is None:
                continue
            if wants_llm and cfg is None:
                _dead_letter(db_url, doc_id, LLMError("config", "no GOUJI_LLM_* configuration to re-run it"), 1)
                continue
            process(s, doc, cfg)
    return [doc_id for doc_id, _ in stuck]


REQUEUE_EVERY_S = float(os.environ.get("GOUJI_REQUEUE_EVERY", "300"))
REQUEUE_AFTER_S = float(os.environ.get("GOUJI_REQUEUE_AFTER", "900"))
app.conf.beat_schedule = {
    "requeue-stuck": {"task": "gouji.requeue", "schedule": REQUEUE_EVERY_S, "options": {"queue": "db"}},
}


@app.task(name="gouji.requeue")  # type: ignore[untyped-decorator]
def requeue_task(db_url: str | None = None) -> int:
    """Run by `gouji worker --beat` every GOUJI_REQUEUE_EVERY seconds (the embedded beat scheduler)."""
    return len(requeue(db_url or database_url(), REQUEUE_AFTER_S, queue=True))


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue (Redis lists named after the queues); empty without a Redis broker."""
    url = broker_url()
    if not url or not url.startswith("redis"):
        return {}
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1)
        return {q: int(client.llen(q)) for q in QUEUES}
    except redis.RedisError:
        return {}
