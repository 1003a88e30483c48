"""schemathesis against the API's own OpenAPI spec on a live server over PostgreSQL (which refuses what
SQLite forgives: NUL characters, over-long values): no generated request may cause a 5xx, and every status
the API answers is one its description documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from gouji.worker.service.pipeline import add_document, batch, process
from gouji.worker.service.tokens import create_token
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from tests.conftest import ROOT, postgres_database
from tests.test_api import Server

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    databases = postgres_database()
    url = next(databases)
    with session(url) as s:
        TOKEN["admin"] = create_token(s, "fuzz", "admin")
        for p in sorted((ROOT / "examples" / "reports").iterdir()):
            doc, _ = add_document(s, p.read_bytes(), p.name, batch(s, "sample"))
            process(s, doc, Settings())
    with Server(url) as base:
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    next(databases, None)  # drops the database


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN['admin']}"}, checks=[not_a_server_error, status_code_conformance]
    )
