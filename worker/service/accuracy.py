"""Extraction accuracy as reviewers measured it: the production measure of quality.

Every closed review compares what the extractor stored (the task's base version) with what the reviewer
let stand (the version the review made). A cell whose value or status changed was an extraction error;
a confirmed-as-published report counts its cells as right (the inconsistency is the agency's, and the
cells in its failing identities are counted apart as source anomalies). Grouped per cell key, per
extractor (deterministic, or the LLM model) and per configuration fingerprint.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gouji.schemas.report import Report
from gouji.worker.service.export import source_anomalies
from gouji.worker.store.models import ExtractionRun, ReportVersion, ReviewTask

COLUMNS = ("group", "key", "reviewed", "corrected", "error_rate", "source_anomalies")


def _extractor(run: ExtractionRun | None) -> tuple[str, str]:
    if run is None:
        return "unknown", "unknown"
    cfg = run.config or {}
    name = f"llm:{cfg['model']}" if "model" in cfg else str(cfg.get("extractor", "deterministic"))
    return name, run.fingerprint


def _cells(version: ReportVersion) -> dict[str, tuple[Any, str]]:
    return {k: (c.value, c.status) for k, c in Report.model_validate(version.report).flat_cells().items()}


def _worst_first(item: tuple[str, list[int]]) -> tuple[float, int, str]:
    name, (n, wrong, flagged) = item
    return -wrong / max(n, 1), -flagged, name


def accuracy(s: Session) -> dict[str, list[dict[str, Any]]]:
    tally: dict[str, dict[str, list[int]]] = {g: defaultdict(lambda: [0, 0, 0]) for g in ("key", "extractor", "config")}
    closed = select(ReviewTask).where(
        ReviewTask.state.in_(("accepted", "confirmed")), ReviewTask.result_version_id.is_not(None)
    )
    for task in s.scalars(closed):
        base, result = s.get(ReportVersion, task.version_id), s.get(ReportVersion, task.result_version_id)
        if base is None or result is None:
            continue
        before, after = _cells(base), _cells(result)
        _, anomalous = source_anomalies(result.report)
        extractor, config = _extractor(s.get(ExtractionRun, base.run_id) if base.run_id else None)
        for key, was in before.items():
            wrong = int(after.get(key, was) != was)
            flagged = int(key in anomalous)
            for group, name in (("key", key), ("extractor", extractor), ("config", config)):
                t = tally[group][name]
                t[0], t[1], t[2] = t[0] + 1, t[1] + wrong, t[2] + flagged
    return {
        f"by_{group}": [
            {
                "group": group,
                "key": name,
                "reviewed": n,
                "corrected": wrong,
                "error_rate": wrong / n if n else 0.0,
                "source_anomalies": flagged,
            }
            for name, (n, wrong, flagged) in sorted(rows.items(), key=_worst_first)
        ]
        for group, rows in tally.items()
    }
