"""A report goes through the pure stages once each, in order: extract → (LLM, fuse) → check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gouji.worker import stages
from gouji.worker.extract.report import extract
from gouji.worker.read import read_document
from gouji.worker.service.pipeline import add_document, process
from gouji.worker.settings import Settings
from gouji.worker.stages import read_report
from gouji.worker.store.db import session
from gouji.worker.store.models import ExtractionRun
from tests.conftest import ROOT
from tests.fake_openai import FakeLLM
from tests.test_llm_extract import GOLD, config

SEED = ROOT / "examples" / "reports" / "cq-scjgj-2020.txt"


def test_extraction_is_a_reading_and_the_checks_run_after_it() -> None:
    doc = read_document(SEED)
    reading = extract(doc)
    assert reading.report.checks == [] and reading.regions is not None and reading.regions.t3 is not None
    checked = read_report(doc)
    assert {c.id for c in checked.checks} >= {"T3.row_total", "N.received", "T4.total"}
    assert checked.report == reading.report.report  # checking adds results; it does not re-read


@pytest.mark.parametrize("with_llm", [False, True])
def test_each_stage_runs_once_in_order(with_llm: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counted(name: str) -> None:
        real = getattr(stages, name)

        def wrapper(*args: Any) -> Any:
            calls.append(name)
            return real(*args)

        monkeypatch.setattr(stages, name, wrapper)

    counted("extract")
    counted("run_checks")
    laps: list[str] = []
    doc = read_document(SEED)
    if not with_llm:
        read_report(doc, lap=laps.append)
        assert calls == ["extract", "run_checks"] and laps == ["extract", "check"]
        return
    with FakeLLM() as fake:
        fake.register(doc.text, GOLD, name="seed")
        report = read_report(doc, config(fake), lap=laps.append)
    assert calls == ["extract", "run_checks"] and laps == ["extract", "llm", "check"]
    cell = report.flat_cells()["applications.new_received.total"]
    assert cell.support == ["deterministic", "llm"] and cell.confidence == "high"  # fused, then checked


def test_the_pipeline_times_every_stage_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stages.db'}"
    with session(url) as s:
        doc, _ = add_document(s, SEED.read_bytes(), SEED.name)
        process(s, doc, Settings())
        run = s.scalars(select(ExtractionRun)).one()
        assert run.timings is not None and list(run.timings) == ["read", "extract", "check", "store", "route"]
