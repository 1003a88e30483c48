"""Workers that cannot be poisoned: a document that kills its worker, or runs past its time limit,
becomes a dead letter with the reason — it is not redelivered for ever (real Redis, PostgreSQL, Celery)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from gouji.worker.store.db import session
from gouji.worker.store.models import Document, Failure
from gouji.worker.synth.generate import synthesize
from tests.test_celery import Redis, env_for, ingest, kill, pg_url, redis, start_worker  # noqa: F401

SCAN = synthesize(7, "scan", version="2021")  # OCR: seconds per page, long enough to be caught mid-work


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _document(db: str) -> Document:
    with session(db) as s:
        doc = s.scalars(select(Document)).one()
        s.expunge(doc)
        return doc


def test_a_document_that_keeps_killing_its_worker_becomes_a_dead_letter(
    redis: Redis,  # noqa: F811
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / f"{SCAN.name}{SCAN.suffix}"
    path.write_bytes(SCAN.content)
    env = env_for(redis, pg_url) | {"GOUJI_MAX_DELIVERIES": "2"}
    assert ingest(env, path).returncode == 0
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        for started in (1, 2):  # the work starts, and the child dies under it (as the OOM killer would do)
            deadline = time.monotonic() + 120
            while _document(pg_url).deliveries < started and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _document(pg_url).deliveries == started, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(1.0)
            for child in _children(worker.pid):
                os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while _document(pg_url).state != "failed" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        kill(worker, signal.SIGTERM)
    doc = _document(pg_url)
    assert doc.state == "failed" and doc.pending_since is None
    assert "stopped its worker 2 times" in (doc.error or "")
    with session(pg_url) as s:
        failures = s.scalars(select(Failure).where(Failure.document_id == doc.id)).all()
        assert [f.stage for f in failures] == ["process"] and "Poisoned" in failures[0].error


def test_a_document_over_its_time_limit_is_stopped_with_the_reason(
    redis: Redis,  # noqa: F811
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / f"{SCAN.name}{SCAN.suffix}"
    path.write_bytes(SCAN.content)
    env = env_for(redis, pg_url) | {"GOUJI_TASK_TIME_LIMIT": "1"}
    assert ingest(env, path).returncode == 0
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        while _document(pg_url).state == "received" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        kill(worker, signal.SIGTERM)
    doc = _document(pg_url)
    assert doc.state == "failed" and "SoftTimeLimitExceeded" in (doc.error or ""), doc.error
