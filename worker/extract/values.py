"""Reading one cell's text into a value and a status, without ever guessing.

A cell is a number only if its whole text is one: "约100" or "12件左右" is `unparseable`, "/" is not
applicable, a dash or 无 is `dash`, an empty cell is `blank`. Units printed inside the cell are kept
(`unit_source: cell`) and flagged, never converted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from gouji.schemas.cells import Status
from gouji.schemas.template import Column

NOT_APPLICABLE = frozenset({"/", "／", "不适用", "\\"})
DASHES = frozenset({"-", "—", "——", "－", "–", "无", "--"})
_NUMBER = re.compile(
    r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<unit>万元|元|件|个|项|条)?$"
)


@dataclass
class Parsed:
    status: Status
    value: int | Decimal | None = None
    unit: str | None = None
    flags: list[str] = field(default_factory=list)
    reason: str | None = None


def clean(text: str) -> str:
    """NFKC and no whitespace: the form in which a cell's text is judged (raw text is kept apart)."""
    return "".join(unicodedata.normalize("NFKC", text).split()).replace("，", ",")


def parse_cell(text: str, column: Column) -> Parsed:
    t = clean(text)
    if not t:
        return Parsed("blank")
    if t in NOT_APPLICABLE:
        return Parsed("not_applicable")
    if t in DASHES or set(t) <= set("-—－–"):
        return Parsed("dash")
    m = _NUMBER.match(t)
    if not m:
        return Parsed("unparseable", reason=f"not a number: {text.strip()!r}")
    flags: list[str] = []
    if "," in m["int"]:
        flags.append("thousands_separator")
    digits = m["int"].replace(",", "")
    sign = m["sign"]
    unit = m["unit"]
    if unit in ("件", "个", "项", "条"):
        unit = None  # a count word adds nothing to a count cell
    elif unit:
        flags.append("unit_in_cell")
    if column.kind == "money":
        value: int | Decimal = Decimal(f"{sign}{digits}" + (f".{m['frac']}" if m["frac"] is not None else ""))
        if column.unit and unit and unit != column.unit:
            flags.append("unit_conflict")
        return Parsed("reported", value, unit, flags)
    if m["frac"] is not None:
        return Parsed("unparseable", reason=f"decimal in a count cell: {text.strip()!r}")
    if unit:
        flags.append("unit_conflict")
    if sign == "+":
        flags.append("explicit_plus")
    return Parsed("reported", int(f"{sign}{digits}"), unit, flags)


def digits_of(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())
