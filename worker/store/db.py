"""Engines, sessions and migrations. SQLite needs no server (the embedded default); PostgreSQL is the
production store. The schema is only ever changed by Alembic migrations, run by `gouji db upgrade` or
automatically before first use, so every installation has the same tables."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@cache
def engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(eng, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.close()

        return eng
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_UPGRADE_LOCK = threading.Lock()


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    with _UPGRADE_LOCK:
        command.upgrade(alembic_config(url), "head")


_FACTORIES: dict[str, sessionmaker[Session]] = {}
_FACTORIES_LOCK = threading.Lock()


def _factory(url: str) -> sessionmaker[Session]:
    """Sessions for `url`, migrating the schema on first use (once per process: Alembic is not thread-safe)."""
    with _FACTORIES_LOCK:
        if url not in _FACTORIES:
            upgrade(url)
            _FACTORIES[url] = sessionmaker(engine(url), expire_on_commit=False)
        return _FACTORIES[url]


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A transaction on the database at `url` (the settings' GOUJI_DATABASE_URL): committed when the block
    ends normally, rolled back on an exception."""
    s = _factory(url)()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()
