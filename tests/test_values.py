"""One cell's text → value and status (docs/spec.md §7.1, D14–D21): never a guess, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gouji.schemas.template import Column
from gouji.worker.extract.values import parse_cell

COUNT = Column("x", "x")
SIGNED = Column("x", "x", kind="signed", unit="个")
MONEY = Column("x", "x", kind="money", unit=None, unit_source="unknown")
MONEY_WAN = Column("x", "x", kind="money", unit="万元", unit_source="header")


@pytest.mark.parametrize(
    ("text", "column", "status", "value"),
    [
        ("159", COUNT, "reported", 159),
        ("0 ", COUNT, "reported", 0),
        ("１２３", COUNT, "reported", 123),  # full-width digits (D21)
        ("1,234", COUNT, "reported", 1234),
        ("1,23", COUNT, "unparseable", None),  # not a valid thousands grouping
        ("", COUNT, "blank", None),
        ("\u3000", COUNT, "blank", None),
        ("/", COUNT, "not_applicable", None),
        ("不适用", COUNT, "not_applicable", None),
        ("—", COUNT, "dash", None),
        ("－", COUNT, "dash", None),
        ("无", COUNT, "dash", None),
        ("约100", COUNT, "unparseable", None),
        ("12.5", COUNT, "unparseable", None),  # a decimal is not a count
        ("-7", SIGNED, "reported", -7),
        ("+1036", SIGNED, "reported", 1036),
        ("36521.44", MONEY, "reported", Decimal("36521.44")),
        ("24252.311082", MONEY_WAN, "reported", Decimal("24252.311082")),
        ("7545", MONEY_WAN, "reported", Decimal("7545")),
    ],
)
def test_parse_cell(text: str, column: Column, status: str, value: object) -> None:
    p = parse_cell(text, column)
    assert (p.status, p.value) == (status, value)
    if p.status in ("unparseable",):
        assert p.reason


def test_unit_inside_the_cell_is_kept_not_converted() -> None:
    p = parse_cell("251000元", MONEY)
    assert (p.value, p.unit) == (Decimal("251000"), "元")
    assert "unit_in_cell" in p.flags
    q = parse_cell("251000元", MONEY_WAN)  # 元 under a 万元 header: flagged, never divided by 10,000
    assert q.value == Decimal("251000") and "unit_conflict" in q.flags


def test_negative_count_is_read_and_left_to_the_type_rule() -> None:
    p = parse_cell("-3", COUNT)
    assert (p.status, p.value) == ("reported", -3)
