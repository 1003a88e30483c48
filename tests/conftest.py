"""Shared fixtures: where the shared corpus is (tests that need it skip cleanly without it)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
READABLE = (".txt", ".md", ".html")


def corpus_reports() -> list[Path]:
    if not (SHARED / "reports").is_dir():
        return []
    return sorted(p for p in (SHARED / "reports").iterdir() if p.suffix in READABLE)


def gold_for(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / "gold" / f"{path.stem}.json").read_text(encoding="utf-8"))
    return data


needs_corpus = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus not present")


PG_ADMIN = os.environ.get("GOUJI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); skipped where no server answers."""
    name = f"gouji_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN}: {e}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Tests that need more than Python and the machine's services are opt-in, so the README's test command
# finishes in minutes on a fresh machine; CI turns them on (.ci/run sets both variables).
OPT_IN = {
    "slow": ("--slow", "GOUJI_SLOW", "builds and runs llama-server (6–20 min the first time, cached after)"),
    "browser": ("--browser", "GOUJI_BROWSER", "drives Debian's chromium (apt-get install chromium)"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for marker, (flag, variable, what) in OPT_IN.items():
        parser.addoption(flag, action="store_true", help=f"also run the {marker} tests ({what}; or {variable}=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, (flag, variable, what) in OPT_IN.items():
        if config.getoption(flag) or os.environ.get(variable) == "1":
            continue
        skip = pytest.mark.skip(reason=f"{marker}: {what}; run with {flag} or {variable}=1 (CI does)")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)
