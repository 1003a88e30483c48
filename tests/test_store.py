"""Storage and the in-process pipeline, on SQLite (the embedded default) and on a real PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 on this machine and in CI (override with GOUJI_TEST_POSTGRES); each
test run gets a fresh database of its own, dropped afterwards. Where no server answers (a laptop), the
PostgreSQL cases are skipped with the reason; the SQLite cases always run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gouji.worker.llm.config import LLMConfig
from gouji.worker.service.pipeline import add_document, batch, process, request_work
from gouji.worker.settings import Settings
from gouji.worker.store.db import session, upgrade
from gouji.worker.store.models import (
    BatchDocument,
    CellRow,
    CheckRow,
    Document,
    ExtractionRun,
    Failure,
    ReportVersion,
    ReviewTask,
)
from tests.conftest import ROOT, SHARED, postgres_database

EXAMPLES = ROOT / "examples" / "reports"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gouji.db'}"
    else:
        yield from postgres_database()


def ingest(url: str, path: Path, batch_name: str = "b1", settings: Settings | None = None) -> tuple[int, str]:
    with session(url) as s:
        doc, _ = add_document(s, path.read_bytes(), path.name, batch(s, batch_name))
        outcome = process(s, doc, settings or Settings())
        return doc.id, outcome.state


def count(url: str, model: type, *where: object) -> int:
    with session(url) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_examples_are_stored_routed_and_queryable(db_url: str) -> None:
    states = {p.name: ingest(db_url, p)[1] for p in sorted(EXAMPLES.iterdir())}
    assert states["cq-scjgj-2020.txt"] == "accepted"
    assert states["synth-2021-flat-7.txt"] == "review"  # fused table-二 cells could not be read
    assert count(db_url, ReportVersion) == len(states)
    assert count(db_url, ReviewTask, ReviewTask.state == "open") == 1
    with session(db_url) as s:
        seed = s.scalar(select(Document).where(Document.file_name == "cq-scjgj-2020.txt"))
        assert seed is not None and (seed.template_version, seed.report_year) == ("2019", 2020)
        v = seed.versions[0]
        cell = s.get(CellRow, (v.id, "applications.new_received.total"))
        assert cell is not None and (cell.value, cell.status, cell.raw) == ("165", "reported", "165")
        amount = s.get(CellRow, (v.id, "active_disclosure.art20_9.centralized_procurement.procurement_amount"))
        assert amount is not None and amount.value == "36521.44"  # money stays an exact decimal string
        n = s.scalar(select(CheckRow).where(CheckRow.version_id == v.id, CheckRow.check_id == "N.received"))
        assert n is not None and (n.status, n.lhs, n.rhs) == ("fail", "77", "165")
        assert v.report["template_version"] == "2019"


def test_same_file_twice_is_one_document_and_a_rerun_makes_no_version(db_url: str) -> None:
    seed = EXAMPLES / "cq-scjgj-2020.txt"
    first, _ = ingest(db_url, seed, "b1")
    again, _ = ingest(db_url, seed, "b2")
    assert first == again
    assert count(db_url, Document) == 1
    assert count(db_url, BatchDocument) == 2
    assert count(db_url, ReportVersion) == 1
    assert count(db_url, ExtractionRun) == 1


def test_bad_inputs_fail_alone(db_url: str, tmp_path: Path) -> None:
    bad = {
        "empty.txt": b"",
        "junk.txt": bytes(range(256)) * 40,
        "scan.pdf": b"%PDF-1.7\n...",
        "gbk.txt": (EXAMPLES / "cq-scjgj-2020.txt").read_text(encoding="utf-8").encode("gb18030"),
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    seed_text = (EXAMPLES / "cq-scjgj-2020.txt").read_text(encoding="utf-8")
    (tmp_path / "utf16.txt").write_bytes(seed_text.replace("2020年", "2020 年", 1).encode("utf-16"))
    states = {name: ingest(db_url, tmp_path / name)[1] for name in [*bad, "utf16.txt"]}
    assert states == {
        "empty.txt": "failed",
        "junk.txt": "failed",
        "scan.pdf": "failed",
        "gbk.txt": "accepted",
        "utf16.txt": "accepted",
    }
    with session(db_url) as s:
        errors = {f.file_name: (f.stage, f.error) for f in s.scalars(select(Failure))}
    assert errors["empty.txt"] == ("read", "empty file")
    assert "PDF" in errors["scan.pdf"][1]
    assert count(db_url, ReportVersion) == 2  # gbk.txt and utf16.txt


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus not present")
def test_agency_error_goes_to_review_with_its_values(db_url: str) -> None:
    _, state = ingest(db_url, SHARED / "reports" / "hongze-2023.txt")
    assert state == "review"
    with session(db_url) as s:
        task = s.scalars(select(ReviewTask)).one()
        assert "identity_failed" in task.reasons
        total = s.get(CellRow, (task.version_id, "review_litigation.review.total"))
        assert total is not None and total.value == "0"


def test_concurrent_ingest_of_the_same_bytes_makes_one_document(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers; the race needs a server")
    upgrade(db_url)
    data = (EXAMPLES / "synth-2021-lines-7.txt").read_bytes()

    def one(i: int) -> int:
        with session(db_url) as s:
            return add_document(s, data, f"copy{i}.txt", batch(s, f"race{i}"))[0].id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(one, range(8)))
    assert len(ids) == 1 and count(db_url, Document) == 1 and count(db_url, BatchDocument) == 8


def test_cli_ingest_and_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = dict(os.environ, GOUJI_DATABASE_URL=url)

    def gouji(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gouji.api.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )

    r = gouji("ingest", str(EXAMPLES), str(tmp_path / "missing.txt"), "--batch", "sample")
    assert r.returncode == 2 and "missing.txt: no such file or folder" in r.stderr
    assert "batch sample: 6 file(s): 4 accepted, 1 review, 0 refused, 1 failed" in r.stdout
    r = gouji("status", "--batch", "sample")
    assert r.returncode == 0 and "batch sample: 4 accepted, 1 review" in r.stdout and "open review tasks: 1" in r.stdout
    assert gouji("db", "upgrade").returncode == 0


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus not present")
def test_cross_year_checks_link_years_even_when_they_arrive_later(db_url: str) -> None:
    from gouji.worker.service.agencies import merge
    from gouji.worker.store.models import CrossYearCheck

    ingest(db_url, SHARED / "reports" / "hongze-2024.txt")  # the later year arrives first
    ingest(db_url, SHARED / "reports" / "hongze-2023.txt")
    assert count(db_url, CrossYearCheck) == 0  # printed "洪泽区人民政府" vs "淮安市洪泽区人民政府": not yet one agency
    with session(db_url) as s:
        merge(s, "洪泽区人民政府", into="淮安市洪泽区人民政府")
    with session(db_url) as s:
        row = s.scalars(select(CrossYearCheck)).one()
        assert (row.year_prev, row.year) == (2023, 2024)
        by_id = {(c["id"], c["args"].get("row", c["args"].get("column"))): c for c in row.checks if not c["lenient"]}
        assert by_id[("X.T3.carry", "total")]["status"] == "pass"
        valid = by_id[("X.T2_2021.valid", "art20_1.normative_documents")]
        assert (valid["status"], valid["lhs"]) == ("pass", 8)  # 5 + 3 − 0 (docs/spec.md §5.5)
    ingest(db_url, SHARED / "reports" / "hongze-2024.txt")  # the same again: nothing new
    assert count(db_url, CrossYearCheck) == 1


def test_requeue_finds_requests_that_never_finished_and_keeps_their_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stuck.db'}"
    llm = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="k")
    with session(url) as s:  # stored and requested but never processed: as if the messages had been lost
        plain, _ = add_document(s, (EXAMPLES / "cq-scjgj-2020.txt").read_bytes(), "seed.txt", batch(s, "b"))
        request_work(plain, None)
        by_llm, _ = add_document(s, (EXAMPLES / "synth-2021-markdown-7.md").read_bytes(), "s.md", batch(s, "b"))
        request_work(by_llm, llm)
        add_document(s, (EXAMPLES / "synth-2021-flat-7.txt").read_bytes(), "never-requested.txt", batch(s, "b"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOUJI_")}
    env["GOUJI_DATABASE_URL"] = url
    r = subprocess.run(
        [sys.executable, "-m", "gouji.api.cli", "requeue", "--older-than", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "2 stuck document(s) processed" in r.stdout, r.stdout + r.stderr
    with session(url) as s:
        docs = {d.file_name: d for d in s.scalars(select(Document))}
        assert docs["seed.txt"].state == "accepted" and docs["seed.txt"].pending_since is None
        # asked for the LLM path, it is not silently done without it: this machine has no LLM configured
        assert docs["s.md"].state == "failed" and "GOUJI_LLM" in (docs["s.md"].error or "")
        assert docs["never-requested.txt"].state == "received"


def test_concurrent_reports_of_a_new_agency_make_one_agency(db_url: str) -> None:
    """Two workers meeting the same new agency at once: one row wins, the other finds it (no lost task)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers; the race needs a server")
    from gouji.worker.service.agencies import agency_for
    from gouji.worker.store.models import Agency

    upgrade(db_url)

    def one(_: int) -> int:
        with session(db_url) as s:
            return agency_for(s, "某县 人民政府").id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(one, range(8)))
    assert len(ids) == 1 and count(db_url, Agency) == 1
