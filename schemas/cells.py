"""The cell object (docs/spec.md §7.1): one number of a report with its status, raw text and provenance.

Money is a decimal *string* in JSON and a `Decimal` in memory; counts are ints. A blank, a dash, a "/"
and a cell the report never printed are four different things, none of them 0.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

Status = Literal["reported", "blank", "dash", "not_applicable", "unparseable", "missing"]
Method = Literal[
    "html_cell",
    "pdf_layout",
    "ocr_cell",
    "docx_cell",
    "text_line",
    "flattened_text",
    "markdown_cell",
    "reconstructed",
    "llm_located",
]
Reading = Literal["deterministic", "llm"]
Confidence = Literal["high", "medium", "low"]
UnitSource = Literal["template", "header", "cell", "unknown"]


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int
    end: int


class Prov(BaseModel):
    """Where a number came from: code-point offsets into the normalised text of source `src`.

    For inputs with pages (PDF, scans, images) also `page` (1-based) and `bbox` = [x0, top, x1, bottom]
    in that page's unit (PDF points for text layers, pixels of the deskewed page image for OCR; see
    `NormalisedDoc.pages` for the page size, which lets a viewer scale the box onto its rendering).
    """

    model_config = ConfigDict(extra="forbid")
    src: str = "src0"
    start: int
    end: int
    page: int | None = None
    bbox: list[float] | None = None
    dom: str | None = None
    method: Method = "text_line"
    row_label: Span | None = None
    col_label: Span | None = None


class Cell(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int | Decimal | None = None
    status: Status
    raw: str = ""
    unit: str | None = None
    unit_source: UnitSource = "template"
    flags: list[str] = Field(default_factory=list)
    reason: str | None = None  # why a cell is missing/unparseable: the extractor says, never guesses
    prov: Prov | None = None
    support: list[Reading] = Field(default_factory=list)  # which readings agree on this value (LLM path)
    confidence: Confidence | None = None  # set by fusion; None when only the deterministic reading ran

    @field_validator("value", mode="before")
    @classmethod
    def _parse_value(cls, v: Any) -> int | Decimal | None:
        if v is None or isinstance(v, bool):
            return None if v is None else int(v)
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            raise ValueError("money must be a decimal string, never a float")
        if isinstance(v, Decimal):
            return v
        if isinstance(v, str):
            # In the canonical JSON a string value is always money (counts are JSON integers).
            try:
                return Decimal(v)
            except InvalidOperation as e:
                raise ValueError(f"not a number: {v!r}") from e
        raise ValueError(f"unsupported cell value {v!r}")

    @field_serializer("value")
    def _dump_value(self, v: int | Decimal | None) -> int | str | None:
        return str(v) if isinstance(v, Decimal) else v

    @property
    def number(self) -> int | Decimal | None:
        """The value if the cell holds a reported number, else None."""
        return self.value if self.status == "reported" else None


# Flag of a cell the layout keeps although this report's form variant has no such cell (D09's 2021
# sub-rows): missing by design, not a cell anyone failed to read.
NOT_PRINTED = "not_printed"
# Flag of a reported value that is not found at its provenance span: kept, but never accepted unreviewed.
NOT_GROUNDED = "not_grounded"
# Flag of a cell a reviewer set to a value the source does not print at its span (a correction of the
# agency's number, or of a misread): kept, but reported by the check G.override with the reviewer's reason.
SOURCE_OVERRIDE = "source_override"
# Flag of a cell read by OCR with a recognition confidence below LOW_OCR_CONFIDENCE_BELOW: the value may
# be misread, so the review queue shows it with its crop before it is accepted. Clean 300 dpi scans
# score ≥ 0.97 on digits; misreads seen in degraded scans scored below 0.9.
LOW_OCR_CONFIDENCE = "low_ocr_confidence"
LOW_OCR_CONFIDENCE_BELOW = 0.9
