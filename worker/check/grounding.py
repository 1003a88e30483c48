"""The hallucination guard: every reported number must be found, digit for digit, where it claims to be.

For a cell read directly, its provenance span must hold exactly its digits; for a value split out of a
fused run, its digits must occur inside that run. A cell that fails is flagged `not_grounded`: its value
is kept (values are never edited), but nothing downstream may accept it without review.

A reviewer may deliberately set a cell to something the source does not print there (the agency's own
error corrected, or a misread fixed); such a cell carries `source_override` and is reported by its own
check, `G.override`, with the printed text beside the new value, instead of as ungrounded.
"""

from __future__ import annotations

from decimal import Decimal

from gouji.schemas.cells import NOT_GROUNDED, SOURCE_OVERRIDE, Cell
from gouji.schemas.report import CheckResult, Report
from gouji.worker.extract.values import digits_of


def _digits(value: int | Decimal) -> str:
    return digits_of(str(abs(value)) if isinstance(value, int) else format(abs(value), "f"))


def grounded(cell: Cell, text: str) -> bool:
    if cell.status != "reported" or cell.value is None:
        return True
    if cell.prov is None or not 0 <= cell.prov.start <= cell.prov.end <= len(text):
        return False
    have = digits_of(text[cell.prov.start : cell.prov.end])
    want = _digits(cell.value)
    if cell.prov.method == "reconstructed":
        return want in have
    return have == digits_of(cell.raw) and have.lstrip("0") == want.lstrip("0")


def printed(cell: Cell, text: str) -> str | None:
    """The source's text at the cell's span; None when the cell has no span in this text."""
    if cell.prov is None or not 0 <= cell.prov.start <= cell.prov.end <= len(text):
        return None
    return text[cell.prov.start : cell.prov.end].strip()


def departs_from_print(cell: Cell, text: str) -> bool:
    """Whether `cell`, as it now stands, says something other than what the source prints at its span:
    a number where the source prints other digits or none, or no number where it prints digits."""
    shown = printed(cell, text)
    if shown is None:
        return False
    if cell.status == "reported":
        return not grounded(cell, text)
    return bool(digits_of(shown)) and (cell.prov is None or cell.prov.method != "reconstructed")


def ground(report: Report, text: str) -> list[CheckResult]:
    """Flag ungrounded cells in place; one failing G.grounded result per such cell, and one G.override
    result per cell a reviewer set against the source."""
    out = []
    for key, cell in report.flat_cells().items():
        if SOURCE_OVERRIDE in cell.flags:
            out.append(
                CheckResult(
                    id="G.override",
                    args={"cell": key},
                    severity="warning",
                    status="fail",
                    operands=[key],
                    detail=f"the source prints {printed(cell, text) or 'nothing'!r} here; a reviewer set "
                    f"{cell.value if cell.status == 'reported' else cell.status}",
                )
            )
            continue
        if grounded(cell, text):
            continue
        if NOT_GROUNDED not in cell.flags:
            cell.flags.append(NOT_GROUNDED)
        out.append(
            CheckResult(
                id="G.grounded",
                args={"cell": key},
                severity="error",
                status="fail",
                operands=[key],
                detail=f"value {cell.value} is not at its source span",
            )
        )
    return out
