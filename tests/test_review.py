"""The review lifecycle in the database (SQLite and PostgreSQL): claims, edits, closing, audit, accuracy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from gouji.schemas.cells import SOURCE_OVERRIDE
from gouji.schemas.report import Report
from gouji.worker.check.run import run_checks
from gouji.worker.errors import ReviewError
from gouji.worker.read import read_document
from gouji.worker.service import review
from gouji.worker.service.accuracy import accuracy
from gouji.worker.service.export import export_bytes
from gouji.worker.settings import Settings
from gouji.worker.stages import read_report
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, ReportVersion, ReviewEvent, ReviewTask
from tests.conftest import ROOT, SHARED
from tests.test_store import db_url, ingest  # noqa: F401  (the fixture: SQLite and PostgreSQL)

HONGZE_2023 = SHARED / "reports" / "hongze-2023.txt"
pytestmark = pytest.mark.skipif(not HONGZE_2023.exists(), reason="needs ../shared/corpus")


def hongze_task(url: str, settings: Settings | None = None) -> int:
    doc_id, state = ingest(url, HONGZE_2023, settings=settings)
    assert state == "review"
    with session(url) as s:
        task = s.scalars(select(ReviewTask).where(ReviewTask.document_id == doc_id)).one()
        assert task.reasons == ["identity_failed"]
        return task.id


def failing(d: review.Draft) -> set[str]:
    return {f"{c.id}[{','.join(c.args.values())}]" for c in d.report.checks if c.status == "fail" and not c.lenient}


def test_edit_until_the_identity_passes_then_submit(db_url: str) -> None:  # noqa: F811
    task_id = hongze_task(db_url)
    with session(db_url) as s:
        task = review.claim(s, task_id, "ana")
        assert "T4.total[review]" in failing(review.draft(s, task))
        with pytest.raises(ReviewError, match="not a number"):
            review.edit(s, task, "ana", "review_litigation.review.total", "1l")
        after = review.edit(s, task, "ana", "review_litigation.review.total", "11", reason="typo in table")
        assert "T4.total[review]" not in failing(after)
        assert after.edited == {"review_litigation.review.total": "11"}
    with session(db_url) as s:  # the edit survives a new session (it is an event, not memory)
        task = review.task_or_404(s, task_id)
        assert review.draft(s, task).edited == {"review_litigation.review.total": "11"}
        review.submit(s, task, "ana")
    with session(db_url) as s:
        task = review.task_or_404(s, task_id)
        doc = s.get(Document, task.document_id)
        assert doc is not None and task.state == "accepted" and doc.state == "accepted"
        versions = s.scalars(select(ReportVersion).where(ReportVersion.document_id == doc.id)).all()
        assert [(v.version_no, v.origin) for v in versions] == [(1, "extractor"), (2, "review")]
        v2 = Report.model_validate(versions[1].report).flat_cells()["review_litigation.review.total"]
        v1 = Report.model_validate(versions[0].report).flat_cells()["review_litigation.review.total"]
        assert (v1.value, v2.value) == (0, 11)  # version 1 is untouched
        assert {review.EDITED, SOURCE_OVERRIDE} <= set(v2.flags)  # the PDF prints 0: a change of a printed value
        actions = [(e.actor, e.action, e.cell_key, e.old, e.new) for e in review.events(s, task)]
        assert actions == [
            ("ana", "claim", None, None, None),
            ("ana", "edit", "review_litigation.review.total", "0", "11"),
            ("ana", "submit", None, None, None),
        ]
        rates = {r["key"]: r for r in accuracy(s)["by_key"]}
        assert rates["review_litigation.review.total"]["corrected"] == 1
        assert rates["review_litigation.review.upheld"]["corrected"] == 0


def test_confirm_as_published_keeps_the_agencys_numbers_as_an_anomaly(db_url: str) -> None:  # noqa: F811
    task_id = hongze_task(db_url)
    with session(db_url) as s:
        task = review.claim(s, task_id, "ana")
        with pytest.raises(ReviewError, match="note is required"):
            review.confirm_published(s, task, "ana", " ")
        review.confirm_published(s, task, "ana", "table 四 totals are printed 0 in the PDF too")
    with session(db_url) as s:
        task = review.task_or_404(s, task_id)
        assert task.state == "confirmed"
        wide = export_bytes(s, "wide.csv", None).decode("utf-8-sig").splitlines()
        long = export_bytes(s, "csv", None).decode("utf-8-sig").splitlines()
    header = wide[0].split(",")
    row = dict(zip(header, next(line for line in wide[1:] if "hongze" in line).split(","), strict=False))
    assert row["origin"] == "confirmed" and "T4.total[review]" in row["source_anomalies"]
    assert row["review_litigation.review.total"] == "0"  # as published
    anomalous = [line for line in long[1:] if ",review_litigation.review.total," in line]
    assert anomalous and anomalous[0].endswith(",True")


def test_two_reviewers_race_for_one_task_and_one_wins(db_url: str) -> None:  # noqa: F811
    task_id = hongze_task(db_url)

    def attempt(who: str) -> str:
        try:
            with session(db_url) as s:
                review.claim(s, task_id, who)
            return who
        except ReviewError:
            return ""

    with ThreadPoolExecutor(8) as pool:
        winners = [w for w in pool.map(attempt, [f"r{i}" for i in range(8)]) if w]
    assert len(winners) == 1
    with session(db_url) as s:
        task = review.task_or_404(s, task_id)
        assert task.claimed_by == winners[0]
        with pytest.raises(ReviewError, match="claimed by"):
            review.claim(s, task_id, "late")
        with pytest.raises(ReviewError, match="claim task"):
            review.edit(s, task, "late", "review_litigation.review.total", "11")
        claims = s.scalars(select(ReviewEvent).where(ReviewEvent.action == "claim")).all()
        assert len(claims) == 1


def test_four_eyes_and_not_a_report(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    task_id = hongze_task(db_url, Settings(review_second_share=1))
    with session(db_url) as s:
        task = review.claim(s, task_id, "ana")
        review.edit(s, task, "ana", "review_litigation.review.total", "11", reason="维持10 + 纠正1")
        review.submit(s, task, "ana")
        assert task.state == "submitted"
        with pytest.raises(ReviewError, match="four eyes"):
            review.claim(s, task_id, "ana")
        assert review.next_open(s, "ana") is None and review.next_open(s, "bo") is not None
        review.claim(s, task_id, "bo")
        review.submit(s, task, "bo")  # approved as it stands: no second new version
        assert task.state == "accepted"
        assert len(s.scalars(select(ReportVersion).where(ReportVersion.document_id == task.document_id)).all()) == 2
    qa_everything = Settings(review_qa_share=1)  # every report drawn for QA: the seed too
    doc_id, state = ingest(db_url, SHARED / "not_reports" / "pingtan-2018-old-template.txt", settings=qa_everything)
    assert state == "refused"  # a refused document is never sampled
    doc_id, state = ingest(db_url, SHARED / "reports" / "cq-scjgj-2020.txt", settings=qa_everything)
    assert state == "review"
    with session(db_url) as s:
        task = s.scalars(select(ReviewTask).where(ReviewTask.document_id == doc_id)).one()
        assert task.reasons == ["qa_sample"]
        review.claim(s, task.id, "ana")
        review.not_a_report(s, task, "ana", "a notice, not the annual report")
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.state == "refused" and "not a report" in (doc.error or "")


def test_changing_a_printed_value_needs_a_reason_and_is_reported(db_url: str) -> None:  # noqa: F811
    task_id = hongze_task(db_url)
    with session(db_url) as s:
        task = review.claim(s, task_id, "ana")
        with pytest.raises(ReviewError, match="changes a printed value"):
            review.edit(s, task, "ana", "review_litigation.review.total", "11")
        d = review.draft(s, task)
        fixes = d.fixes()
        assert fixes and all(d.overrides(f) for f in fixes)  # every repair here changes what the PDF prints
        with pytest.raises(ReviewError, match="changes a printed value"):
            review.apply_fix(s, task, "ana", 0)
        after = review.apply_fix(s, task, "ana", 0, reason="the agency's 总计 is a slip")
        overridden = [k for k, c in after.report.flat_cells().items() if SOURCE_OVERRIDE in c.flags]
        assert overridden and {f"G.override[{k}]" for k in overridden} <= failing(after)
        assert not [c for c in after.report.checks if c.id == "G.grounded"]  # reported once, as an override
        edits = [e for e in review.events(s, task) if e.action == "edit"]
        assert edits and all("agency's 总计 is a slip" in (e.reason or "") for e in edits)
        # setting it back to what the source prints is no override and needs no reason
        for key in overridden:
            original = Report.model_validate(d.base.report).flat_cells()[key]
            review.edit(s, task, "ana", key, review.shown(original))
        assert not [k for k, c in review.draft(s, task).report.flat_cells().items() if SOURCE_OVERRIDE in c.flags]


def test_proposals_that_keep_printed_values_come_first() -> None:
    """An OCR-like misread: the reading says 总计 is one more than the source prints (and than its parts).
    Restoring the print repairs the identity without overriding anything; that proposal ranks above those
    that change a printed value."""
    doc = read_document(ROOT / "examples" / "reports" / "synth-2021-lines-7.txt")
    report = read_report(doc)
    key = "review_litigation.review.total"
    cell = report.flat_cells()[key]
    assert isinstance(cell.value, int)
    wrong = cell.model_copy(update={"value": cell.value + 1, "raw": str(cell.value + 1)})
    misread = run_checks(report.with_cells({key: wrong}), doc.text)
    d = review.Draft(cast(Any, None), misread, cast(Any, None), {}, doc.text)
    ranked = d.fixes()
    assert len(ranked) > 1 and not d.overrides(ranked[0])
    assert [(c.key, c.proposed) for c in ranked[0].changes] == [(key, cell.value)]
    assert all(d.overrides(f) for f in ranked[1:])


def test_concurrent_submits_store_exactly_one_version(db_url: str) -> None:  # noqa: F811
    task_id = hongze_task(db_url)
    with session(db_url) as s:
        task = review.claim(s, task_id, "ana")
        review.edit(s, task, "ana", "review_litigation.review.total", "11", reason="维持10 + 纠正1")

    def submit(_: int) -> str:
        try:
            with session(db_url) as s:
                review.submit(s, review.task_or_404(s, task_id), "ana")
            return "won"
        except ReviewError as e:
            return e.message

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(submit, range(4)))
    assert outcomes.count("won") == 1, outcomes
    with session(db_url) as s:
        task = review.task_or_404(s, task_id)
        versions = s.scalars(select(ReportVersion).where(ReportVersion.document_id == task.document_id)).all()
        assert [v.origin for v in versions] == ["extractor", "review"]
        assert [e.action for e in review.events(s, task)].count("submit") == 1


def test_next_gives_each_concurrent_reviewer_a_different_task(db_url: str) -> None:  # noqa: F811
    qa_all = Settings(review_qa_share=1)  # every report becomes a task
    for path in sorted((SHARED / "reports").glob("*.txt")):
        ingest(db_url, path, settings=qa_all)
    with session(db_url) as s:
        open_tasks = len(s.scalars(select(ReviewTask.id).where(ReviewTask.state == "open")).all())
    assert open_tasks >= 6

    def take(who: str) -> int | None:
        with session(db_url) as s:
            task = review.claim_next(s, who)
            return None if task is None else task.id

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(take, [f"r{i}" for i in range(8)]))
    claimed = [t for t in got if t is not None]
    assert len(claimed) == min(8, open_tasks) and len(set(claimed)) == len(claimed), got
