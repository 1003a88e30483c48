"""What every table reader shares: drafts of cells, how a draft becomes a `Cell`, and the reading result."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from gouji.schemas.cells import LOW_OCR_CONFIDENCE, LOW_OCR_CONFIDENCE_BELOW, Cell, Method, Prov, Span
from gouji.schemas.report import Deviation, RowLabel, TableMeta, Unmapped
from gouji.schemas.template import Column
from gouji.worker.extract.fused import Value
from gouji.worker.extract.scan import Hit, Token
from gouji.worker.extract.values import parse_cell

# Flag of a refused cell whose text admits several values that all satisfy the identities: another
# reading (an LLM's) choosing one of them is no evidence, so fusion must never accept it unreviewed.
AMBIGUOUS = "ambiguous"


@dataclass
class Draft:
    """A cell before it is judged: where its text is, and a value if a solver had to decide it."""

    raw: str
    start: int
    end: int
    dom: str | None = None
    value: Value | None = None  # set when the value came from splitting a fused run
    flags: tuple[str, ...] = ()
    status: str | None = None  # forced status (missing / unparseable) with `reason`
    reason: str | None = None
    page: int | None = None  # position on a page for PDF/scan inputs (see GridCell)
    bbox: tuple[float, float, float, float] | None = None
    confidence: float | None = None  # OCR confidence

    @classmethod
    def of(cls, tok: Token) -> Draft:
        return cls(tok.text, tok.start, tok.end, tok.dom, page=tok.page, bbox=tok.bbox, confidence=tok.confidence)

    @classmethod
    def refused(
        cls, status: str, reason: str, raw: str = "", start: int = 0, end: int = 0, ambiguous: bool = False
    ) -> Draft:
        """A cell the text does not determine; `ambiguous` when several readings fit it equally well."""
        return cls(raw, start, end, status=status, reason=reason, flags=(AMBIGUOUS,) if ambiguous else ())


@dataclass
class Reading:
    """What one table reader found: cells by flat key, row labels, header words and notes."""

    cells: dict[str, Cell] = field(default_factory=dict)
    labels: dict[str, RowLabel] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)  # header words by canonical table/block path
    deviations: list[Deviation] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    meta: TableMeta = field(default_factory=TableMeta)


def build_cell(d: Draft, column: Column, method: Method, row_label: Hit | None) -> Cell:
    label_span = Span(start=row_label.start, end=row_label.end) if row_label else None
    prov = (
        Prov(
            start=d.start,
            end=d.end,
            dom=d.dom,
            page=d.page,
            bbox=list(d.bbox) if d.bbox else None,
            method="reconstructed" if d.value is not None else method,
            row_label=label_span,
        )
        if (d.end > d.start or d.dom or d.page is not None)
        else None
    )
    if d.confidence is not None and d.confidence < LOW_OCR_CONFIDENCE_BELOW:
        d = dataclasses.replace(d, flags=(*d.flags, LOW_OCR_CONFIDENCE))
    if d.status in ("missing", "unparseable"):
        return Cell(
            value=None,
            status=d.status,
            raw=d.raw.strip(),
            reason=d.reason,
            prov=prov,
            flags=list(d.flags),
            unit=column.unit,
            unit_source=column.unit_source,
        )
    flags = list(d.flags)
    if d.value is not None:
        parsed_unit = _cell_unit(d.raw)
        unit, unit_source = (parsed_unit, "cell") if parsed_unit else (column.unit, column.unit_source)
        if column.kind == "money" and unit is None:
            flags.append("unit_unknown")
        return Cell(
            value=d.value,
            status="reported",
            raw=_raw(d.raw),
            unit=unit,
            unit_source=unit_source,
            flags=flags,
            prov=prov,
        )
    p = parse_cell(d.raw, column)
    flags += p.flags
    unit, unit_source = (p.unit, "cell") if p.unit else (column.unit, column.unit_source)
    if p.status == "reported" and column.kind == "money" and unit is None:
        flags.append("unit_unknown")
    if p.status == "reported" and column.kind == "int" and isinstance(p.value, int) and p.value < 0:
        flags.append("negative_count")
    return Cell(
        value=p.value,
        status=p.status,
        raw=_raw(d.raw),
        unit=unit,
        unit_source=unit_source,
        flags=flags,
        reason=p.reason,
        prov=prov,
    )


_UNIT = re.compile(r"(万元|元)\s*$")


def _cell_unit(raw: str) -> str | None:
    m = _UNIT.search(raw)
    return m.group(1) if m else None


def _raw(raw: str) -> str:
    return raw.strip()


def run_of(tokens: list[Token], text: str) -> Draft:
    """The draft covering a whole run of tokens (a fused row), raw = the text as it stands."""
    a, b = tokens[0].start, tokens[-1].end
    first = tokens[0]
    boxes = [t.bbox for t in tokens if t.bbox is not None and t.page == first.page]
    bbox = (
        (min(x[0] for x in boxes), min(x[1] for x in boxes), max(x[2] for x in boxes), max(x[3] for x in boxes))
        if boxes
        else None
    )
    confs = [t.confidence for t in tokens if t.confidence is not None]
    return Draft(text[a:b], a, b, first.dom, page=first.page, bbox=bbox, confidence=min(confs) if confs else None)
