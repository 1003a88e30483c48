"""Which reports a person must see, and why: the routing rules as data, configurable per deployment.

A report goes to review when any enabled rule fires; each rule has a stable reason code that is stored
with the task and shown in the queue. Accepted reports are also sampled for quality assurance, and some
reviewed ones drawn for a second reviewer (four eyes). Both draws hash the document's content, so a
re-run or a redelivered task draws the same way (no flapping, no double tasks).

Settings: GOUJI_REVIEW_REASONS (comma list of enabled codes; default all), GOUJI_REVIEW_QA_SHARE
(default 0.05), GOUJI_REVIEW_SECOND_SHARE (default 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from gouji.schemas.cells import LOW_OCR_CONFIDENCE, NOT_GROUNDED, NOT_PRINTED, Cell
from gouji.schemas.report import Report
from gouji.worker.errors import ConfigError
from gouji.worker.llm.fusion import routes_to_review
from gouji.worker.settings import Settings


def _cells(report: Report) -> list[Cell]:
    return list(report.flat_cells().values())


RULES: dict[str, tuple[str, Callable[[Report], bool]]] = {
    "identity_failed": (
        "an error-severity identity fails",
        lambda r: any(c.status == "fail" and not c.lenient and c.severity == "error" for c in r.checks),
    ),
    "not_grounded": (
        "a value is not at its source span",
        lambda r: any(NOT_GROUNDED in c.flags for c in _cells(r)),
    ),
    "readings_disagree": (
        "the deterministic and LLM readings disagree on a cell",
        lambda r: any(routes_to_review(c) for c in _cells(r)),
    ),
    "low_ocr_confidence": (
        "OCR read a cell with low confidence",
        lambda r: any(LOW_OCR_CONFIDENCE in c.flags for c in _cells(r)),
    ),
    "template_unknown_or_mixed": (
        "the template version is unknown or mixed",
        lambda r: r.template_version == "unknown" or r.template_evidence.mixed,
    ),
    "cells_unread": (
        "a printed cell could not be read",
        lambda r: any(c.status in ("unparseable", "missing") and NOT_PRINTED not in c.flags for c in _cells(r)),
    ),
}
QA_SAMPLE = "qa_sample"
REASONS: dict[str, str] = {code: text for code, (text, _) in RULES.items()} | {
    QA_SAMPLE: "random quality-assurance sample of automatically accepted reports"
}


def drawn(key: str, share: float, salt: str) -> bool:
    """A deterministic draw with probability `share`: the same key always draws the same way."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class Routing:
    enabled: frozenset[str] = field(default_factory=lambda: frozenset(RULES))
    qa_share: float = 0.05
    second_share: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Routing:
        listed = settings.review_reasons
        enabled = frozenset(x.strip() for x in listed.split(",") if x.strip()) if listed else frozenset(RULES)
        unknown = enabled - set(RULES)
        if unknown:
            raise ConfigError(
                f"GOUJI_REVIEW_REASONS: unknown reason(s) {', '.join(sorted(unknown))}; known: {', '.join(RULES)}"
            )
        return cls(enabled=enabled, qa_share=settings.review_qa_share, second_share=settings.review_second_share)

    def reasons(self, report: Report, content_sha256: str) -> list[str]:
        """Reason codes for sending `report` to review; empty means accept automatically."""
        if report.refused is not None:
            return []
        found = [code for code, (_, fires) in RULES.items() if code in self.enabled and fires(report)]
        if not found and drawn(content_sha256, self.qa_share, QA_SAMPLE):
            found = [QA_SAMPLE]
        return found

    def second_review(self, content_sha256: str) -> bool:
        return drawn(content_sha256, self.second_share, "second_review")
