"""The report model: canonical JSON ↔ flat cells, money as Decimal, absent ≠ null, and the fused-run solver."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gouji.schemas.cells import Cell
from gouji.schemas.report import Report, build_tables, json_schema
from gouji.schemas.template import C6, T4_GROUPS, T4_LEAVES, Layout, cell_specs
from gouji.worker.extract.fused import group_total_splits, row_splits, splits
from tests.strategies import consistent_reports


def _report(layout: Layout, cells: dict[str, Cell]) -> Report:
    ad, ap, rl = build_tables(layout, cells)
    return Report(
        template_version=layout.version,
        layout={
            "other_processing": layout.other_processing,
            "lp_subtotal": layout.lp_subtotal,
            "subtotal_groups": sorted(layout.subtotal_groups),
        },
        active_disclosure=ad,
        applications=ap,
        review_litigation=rl,
    )


@settings(max_examples=60, deadline=None)
@given(consistent_reports())
def test_canonical_json_round_trips_through_flat_cells(case: tuple[Layout, dict[str, Cell]]) -> None:
    layout, cells = case
    text = _report(layout, cells).to_json()
    back = Report.model_validate_json(text)
    assert back.layout_obj() == layout
    flat = back.flat_cells()
    assert set(flat) == {s.key for s in cell_specs(layout)}
    assert {k: (c.status, c.value) for k, c in flat.items()} == {k: (c.status, c.value) for k, c in cells.items()}
    assert _report(layout, flat).to_json() == text


def test_money_is_a_decimal_string_and_never_a_float() -> None:
    cell = Cell(value=Decimal("24252.311082"), status="reported", raw="24252.311082")
    assert json.loads(cell.model_dump_json())["value"] == "24252.311082"
    assert Cell.model_validate({"value": "7545", "status": "reported"}).value == Decimal("7545")
    with pytest.raises(ValidationError):
        Cell(value=1.5, status="reported")


def test_absent_cells_are_omitted_not_null() -> None:
    layout = Layout.default("2021")
    cells = {s.key: Cell(value=None, status="blank") for s in cell_specs(layout)}
    data = json.loads(_report(layout, cells).to_json())
    assert "art20_9" not in data["active_disclosure"]  # a 2019-only block is absent in 2021
    assert "single_row" not in data["applications"]["rows"]["other_processing"]
    assert data["applications"]["rows"]["new_received"]["cells"]["total"]["value"] is None  # blank keeps null
    assert data["applications"]["status"] == "not_reported"


def test_json_schema_exports() -> None:
    schema = json_schema()
    assert schema["$id"] == "gov-info-annual-report/1"
    assert "Cell" in schema["$defs"]


# -- fused digit runs (D22) ------------------------------------------------------------------------

rows7 = st.lists(st.integers(0, 300), min_size=6, max_size=6).map(lambda xs: (*xs, sum(xs)))


@settings(max_examples=300, deadline=None)
@given(rows7)
def test_fused_row_splits_contain_the_truth(row: tuple[int, ...]) -> None:
    run = "".join(map(str, row))
    options = row_splits(run, 7, lambda v: sum(v[:6]) == v[6])
    assert row in options
    assert all(sum(o[:6]) == o[6] and "".join(map(str, o)) == run for o in options)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 60), min_size=4, max_size=4), min_size=3, max_size=3))
def test_fused_table4_unique_split_is_the_truth(groups: list[list[int]]) -> None:
    truth = tuple(x for g in groups for x in (*g, sum(g)))
    options = group_total_splits("".join(map(str, truth)), len(T4_GROUPS), len(T4_LEAVES) - 1)
    assert truth in options
    if len(options) == 1:
        assert options[0] == truth


def test_unsplittable_table2_runs_are_ambiguous() -> None:
    assert len(splits("898989", ["int", "int", "int"])) > 1  # docs/spec.md D22: refuse
    assert splits("000", ["int", "int", "int"]) == [(0, 0, 0)]
    assert splits("8-40", ["int", "signed", "int"]) == [(8, -4, 0)]  # a minus starts a cell (D20)
    assert len(C6) == 6
