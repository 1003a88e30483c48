"""Celery tasks: the pipeline's stages run by workers, with Redis carrying messages and the database
holding every result.

Delivery is at-least-once by design: `acks_late` with `task_reject_on_worker_lost` puts a task back
on the queue when its worker dies (kill -9, OOM, a lost machine), and every task is idempotent (keyed
by content hash and configuration fingerprint in the database), so running it twice stores it once.
`visibility_timeout` is above the longest task: a task that outlived it would be handed to a second
worker while the first still runs. Prefetch is 1, so a slow LLM call never holds queued work hostage.
Transient failures are retried with exponential backoff and jitter; what still fails is a dead letter.
The app reads no settings at import: `configure(settings)` points it at a broker.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from gouji.worker.errors import RETRYABLE, GoujiError, LLMError
from gouji.worker.service.pipeline import process
from gouji.worker.service.vocabulary import QUEUES
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, Failure

MAX_RETRIES = 5

app = Celery("gouji")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="cpu",
    task_ignore_result=True,  # results live in the database, not in the broker
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)
_configured: list[Settings] = []  # the settings the app was last configured with (at most one)


def configure(settings: Settings) -> Celery:
    """Point the Celery app at `settings` (broker, visibility timeout, the requeue beat); each entry point
    that sends or runs tasks calls it once. The worker processes forked by `gouji worker` inherit it."""
    if _configured and _configured[0] == settings:
        return app
    app.conf.update(
        broker_url=settings.broker_url or "redis://127.0.0.1:6379/0",
        # A child that grew past this (a huge page, a leak) is replaced after its task; one that is killed
        # outright (the kernel's OOM killer, the hard time limit) is caught by the delivery counter below.
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024 or None,
        # The longest task (an LLM-read report with repairs) stays far below this; tests lower it to see a
        # killed worker's tasks come back quickly.
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        beat_schedule={
            "requeue-stuck": {"task": "gouji.requeue", "schedule": settings.requeue_every, "options": {"queue": "db"}}
        },
    )
    _configured[:] = [settings]
    return app


def current_settings() -> Settings:
    """The settings this process configured the app with; a worker started by `celery -A` directly reads
    them from its environment, once."""
    if not _configured:
        configure(Settings.from_env())
    return _configured[0]


@app.task(bind=True, name="gouji.process", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def process_task(self: Any, document_id: int, use_llm: bool = False, db_url: str | None = None) -> str:
    """Read, extract, check, store and route one stored document (idempotent).

    The LLM configuration comes from the worker's own settings: API keys never travel in messages.
    """
    settings = current_settings()
    url = db_url or settings.database_url
    try:
        cfg = settings.llm_config(use_llm)
    except GoujiError as e:
        _dead_letter(url, document_id, e, 1)
        return "failed"
    started = _delivered(url, document_id)
    if started is None:
        return "missing"
    if started > settings.max_deliveries:
        limit = settings.llm_task_time_limit if use_llm else settings.task_time_limit
        _dead_letter(
            url,
            document_id,
            Poisoned(
                f"processing this document stopped its worker {started - 1} times in a row (out of memory, or "
                f"over the {limit:.0f} s time limit); it is not tried again"
            ),
            started,
        )
        return "failed"
    try:
        with session(url) as s:
            doc = s.get(Document, document_id)
            if doc is None:
                return "missing"
            doc.deliveries = 0  # this run ends here, whatever its outcome: no kill to count
            return process(s, doc, settings, cfg).state
    except (OperationalError, IntegrityError, LLMError) as e:  # IntegrityError: a concurrent insert won a key
        if isinstance(e, LLMError) and e.kind not in RETRYABLE:
            _dead_letter(url, document_id, e, self.request.retries + 1)
            raise
        if self.request.retries >= MAX_RETRIES:
            _dead_letter(url, document_id, e, self.request.retries + 1)
            raise
        backoff = min(2**self.request.retries, 60) * (0.5 + random.random())  # exponential, with jitter
        _settled(url, document_id)  # a handled failure, not a kill: the retry starts the count afresh
        raise self.retry(exc=e, countdown=backoff) from e
    except Exception as e:  # anything else: a dead letter, never a document silently left behind
        _dead_letter(url, document_id, e, self.request.retries + 1)
        raise


class Poisoned(GoujiError):
    """A document that kills the worker processing it: recorded as a dead letter instead of tried forever."""


def _delivered(url: str, document_id: int) -> int | None:
    """Count this start of work on the document, committed before the work (a worker killed during it
    leaves the count behind); the count after this start, or None when the document is gone."""
    with session(url) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            return None
        doc.deliveries += 1
        return doc.deliveries


def _settled(url: str, document_id: int) -> None:
    with session(url) as s:
        doc = s.get(Document, document_id)
        if doc is not None:
            doc.deliveries = 0


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
            doc.state, doc.error, doc.pending_since, doc.deliveries = "failed", f"process: {e}", None, 0


def enqueue(settings: Settings, document_id: int, use_llm: bool) -> None:
    """Send the document to its queue with its time limit: past the soft limit the task stops with an error
    (a dead letter); a minute later the hard limit kills the child, which the delivery counter notices."""
    configure(settings)
    limit = settings.llm_task_time_limit if use_llm else settings.task_time_limit
    process_task.apply_async(
        args=[document_id, use_llm, settings.database_url],
        queue="llm" if use_llm else "cpu",
        soft_time_limit=limit,
        time_limit=limit + 60,
    )


def requeue(settings: Settings, older_than: float) -> list[int]:
    """Process again every document whose requested work has not finished after `older_than` seconds.

    The database is the system of record: whatever happened to a message (a broker flushed, a publish
    lost between commit and send), a pending request is found here and sent again, on the path (LLM or
    not) it was asked for. Processing is idempotent, so a request that was merely slow costs nothing.
    Without a broker the work runs in this process (the embedded mode has no workers). A queue that
    still holds messages is left alone (its documents may simply be waiting their turn), and a request
    sent again counts as pending from now, so a periodic run does not pile up copies.
    """
    queue = settings.broker_url is not None
    db_url = settings.database_url
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
    busy = {q for q, n in queue_depths(settings).items() if n} if queue else set()
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
            enqueue(settings, doc_id, wants_llm)
            continue
        try:
            cfg = settings.llm_config(wants_llm)
        except GoujiError as e:
            _dead_letter(db_url, doc_id, e, 1)
            continue
        with session(db_url) as s:
            doc = s.get(Document, doc_id)
            if doc is not None:
                process(s, doc, settings, cfg)
    return [doc_id for doc_id, _ in stuck]


@app.task(name="gouji.requeue")  # type: ignore[untyped-decorator]
def requeue_task(db_url: str | None = None) -> int:
    """Run by `gouji worker --beat` every GOUJI_REQUEUE_EVERY seconds (the embedded beat scheduler)."""
    settings = current_settings()
    if db_url:
        settings = settings.model_copy(update={"database_url": db_url})
    return len(requeue(settings, settings.requeue_after))


def queue_depths(settings: Settings) -> dict[str, int]:
    """Messages waiting per queue (Redis lists named after the queues); empty without a Redis broker."""
    url = settings.broker_url
    if not url or not url.startswith("redis"):
        return {}
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1)
        return {q: int(client.llen(q)) for q in QUEUES}
    except redis.RedisError:
        return {}
