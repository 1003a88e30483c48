"""The hallucination guard: every reported number must be found, digit for digit, where it claims to be.

For a cell read directly, its provenance span must hold exactly its digits; for a value split out of a
fused run, its digits must occur inside that run. A cell that fails is flagged `not_grounded`: its value
is kept (values are never edited), but nothing downstream may accept it without review.
"""

from __future__ import annotations

from decimal import Decimal

from gouji.schemas.cells import NOT_GROUNDED, Cell
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


def ground(report: Report, text: str) -> list[CheckResult]:
    """Flag ungrounded cells in place; one failing G.grounded result per such cell."""
    out = []
    for key, cell in report.flat_cells().items():
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
