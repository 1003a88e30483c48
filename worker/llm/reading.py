"""An LLM answer as cells: typed by the template, and found again in the source or flagged.

The model's `value` is parsed by the column's kind (counts, signed changes, money as Decimal), never
trusted as a type. Each reported value is then looked for in the table's own text: as a number standing
alone it gets a provenance span (`llm_located`); inside a run of fused digits it is only `in_fused_run`
(the run admits other splits); not at all, it is `not_grounded` — a hallucination guard, not a verdict.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from gouji.schemas.cells import NOT_GROUNDED, Cell, Prov
from gouji.schemas.llm import TableId, flat_key
from gouji.schemas.template import CellSpec, Layout, cell_specs
from gouji.worker.extract.values import digits_of, parse_cell

LLM_FLAG = "llm"
IN_FUSED_RUN = "in_fused_run"


def answer_cells(answer: BaseModel, table: TableId, layout: Layout) -> tuple[dict[str, Cell], list[str]]:
    """Cells of one table from a schema-valid answer, and notes on what was dropped (keys the layout lacks)."""
    specs: dict[str, CellSpec] = {s.key: s for s in cell_specs(layout)}
    cells: dict[str, Cell] = {}
    notes: list[str] = []
    for row in answer.rows:  # type: ignore[attr-defined]
        for c in row.cells:
            key = flat_key(table, row.row_key, c.column)
            spec = specs.get(key)
            if spec is None:
                notes.append(f"{key}: not a cell of this report's layout")
                continue
            if key in cells:
                notes.append(f"{key}: answered twice; the first answer kept")
                continue
            cells[key] = _cell(c.raw, c.value, c.status, spec)
    return cells, notes


def _cell(raw: str, value: str | None, status: str, spec: CellSpec) -> Cell:
    col = spec.column
    base = {"raw": raw, "unit": col.unit, "unit_source": col.unit_source, "support": ["llm"]}
    if status != "reported":
        return Cell(status=status, flags=[LLM_FLAG], **base)
    parsed = parse_cell(value if value is not None else raw, col)
    if parsed.status != "reported":
        return Cell(status="unparseable", flags=[LLM_FLAG], reason=f"LLM value {value!r} is not a {col.kind}", **base)
    flags = [LLM_FLAG, *parsed.flags]
    said, read = digits_of(value or ""), digits_of(raw)
    if said and read and said.lstrip("0") != read.lstrip("0"):
        flags.append("raw_value_mismatch")  # the model's raw text and its value disagree
    return Cell(value=parsed.value, status="reported", flags=flags, **base)


def locate(cell: Cell, text: str, start: int, end: int, near: int | None = None) -> None:
    """Give a reported LLM cell a span in [start, end) of the source, or flag it (in place)."""
    if cell.status != "reported" or cell.value is None:
        return
    want = digits_of(cell.raw) or digits_of(str(cell.value))
    if not want:
        cell.flags.append(NOT_GROUNDED)
        return
    sign = "-?" if isinstance(cell.value, int) and cell.value < 0 else ""
    alone = (
        re.compile(rf"(?<![\d.]){sign}{re.escape(want)}(?![\d.])")
        if "." not in cell.raw
        else re.compile(rf"(?<![\d.]){re.escape(cell.raw.strip().rstrip('元万'))}(?!\d)")
    )
    for lo in [near, start] if near is not None and start <= near < end else [start]:
        m = alone.search(text, lo, end)
        if m:
            cell.prov = Prov(start=m.start(), end=m.end(), method="llm_located")
            return
    runs = [m for m in re.finditer(r"\d[\d\s]*\d|\d", text[start:end]) if want in "".join(m.group().split())]
    if runs:
        m = runs[0]
        cell.prov = Prov(start=start + m.start(), end=start + m.end(), method="llm_located")
        cell.flags.append(IN_FUSED_RUN)
        return
    cell.flags.append(NOT_GROUNDED)
