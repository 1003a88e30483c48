"""T2.rule_power (info, D31): 规章 counts from a body that cannot make 规章 are flagged, never changed."""

from __future__ import annotations

from decimal import Decimal

from gouji.schemas.rules import rule_power
from gouji.schemas.template import Layout
from tests.strategies import build_cells

KEY = "active_disclosure.art20_1.regulations.currently_valid"


def test_township_with_rules_is_flagged() -> None:
    layout = Layout.default("2021")
    cells = build_cells(layout, t2={KEY: 6, "active_disclosure.art20_8.administrative_fees.fee_amount": Decimal("0")})
    r = rule_power(cells, layout, "某镇人民政府")
    assert (r.status, r.severity, r.operands) == ("fail", "info", [KEY])
    assert cells[KEY].value == 6


def test_bodies_with_rule_power_or_zero_pass() -> None:
    layout = Layout.default("2021")
    cells = build_cells(layout, t2={KEY: 11})
    assert rule_power(cells, layout, "淮安市人民政府").status == "skipped"
    assert rule_power(build_cells(layout), layout, "沭阳县发展和改革局").status == "pass"
    assert rule_power(cells, layout, None).status == "skipped"
