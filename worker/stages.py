"""The pure stages of one report, in order and each once: extract → (LLM, fuse) → check.

Reading the file (worker/read/) comes before and storing, routing and review (worker/service/) after;
both the command line's `gouji extract` (no database) and the service's pipeline call this one function,
so a report is judged by the same steps whichever way it arrives. Extraction and the LLM path return
readings; the identities, the narrative checks and grounding run here, once, on the reading that is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gouji.schemas.report import Report
from gouji.worker.check.run import run_checks
from gouji.worker.extract.report import extract
from gouji.worker.llm.config import LLMConfig
from gouji.worker.read.document import NormalisedDoc

if TYPE_CHECKING:
    from openai import OpenAI


def _no_lap(stage: str) -> None:
    """The default stage clock: nothing is timed."""


def read_report(
    doc: NormalisedDoc,
    llm: LLMConfig | None = None,
    *,
    client: OpenAI | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lap: Callable[[str], None] = _no_lap,
) -> Report:
    """The checked report of `doc`: the deterministic reading, fused with the LLM's when `llm` is given.

    `lap(stage)` is called as each stage ends (the pipeline records the times); `client` and `sleep` are
    the LLM path's, for tests that talk to their own server or must not wait.
    """
    reading = extract(doc)
    lap("extract")
    report = reading.report
    if llm is not None and report.refused is None:
        from gouji.worker.llm.extract import read_with_llm  # the openai client loads only when asked for

        report = read_with_llm(doc, reading, llm, client, sleep)
        lap("llm")
    report = run_checks(report, doc.text)
    lap("check")
    return report
