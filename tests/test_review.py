"""The review lifecycle in the database (SQLite and PostgreSQL): claims, edits, closing, audit, accuracy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from gouji.schemas.report import Report
from gouji.worker.errors import ReviewError
from gouji.worker.service import review
from gouji.worker.service.accuracy import accuracy
from gouji.worker.service.export import export_bytes
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, ReportVersion, ReviewEvent, ReviewTask
from tests.conftest import SHARED
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
        assert (v1.value, v2.value, v2.flags[-1]) == (0, 11, review.EDITED)  # version 1 is untouched
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
        review.edit(s, task, "ana", "review_litigation.review.total", "11")
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
