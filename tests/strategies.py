"""Generators of internally consistent reports, shared by the identity, localiser and extractor tests.

A consistent report is built the way an agency fills the form: choose the outcome counts and the
carried-over / carried-forward numbers per applicant column, then derive every total. That makes it
consistent by construction, so any failure a test sees is caused by the perturbation it made.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from hypothesis import strategies as st

from gouji.schemas.cells import Cell
from gouji.schemas.template import (
    C6,
    LP_COMPONENTS,
    T4_GROUPS,
    VERSIONS,
    Layout,
    Version,
    cell_specs,
    outcome_rows,
    table2_specs,
    table3_columns,
)

Number = int | Decimal
T4_PARTS = ("upheld", "corrected", "other_outcome", "pending")


def reported(value: Number) -> Cell:
    return Cell(value=value, status="reported", raw=str(value))


def _other_processing(layout: Layout) -> Literal["single_row", "subrows"]:
    return "single_row" if layout.version == "2019" else layout.other_processing


def build_cells(
    layout: Layout,
    outcomes: Mapping[str, Mapping[str, int]] | None = None,
    carried_over: Mapping[str, int] | None = None,
    carried_forward: Mapping[str, int] | None = None,
    t4: Mapping[str, Mapping[str, int]] | None = None,
    t2: Mapping[str, Number] | None = None,
) -> dict[str, Cell]:
    """All cells of `layout` from the free components (absent ones are 0); totals are derived.

    `outcomes` maps an outcome row to {C6 column: count}; `t2` maps table-二 flat keys to values.
    Cells the layout keeps but the report did not print (D09's 2021 sub-rows) come out `missing`.
    """
    outcomes, carried_over, carried_forward = outcomes or {}, carried_over or {}, carried_forward or {}
    t4, t2 = t4 or {}, t2 or {}
    op = _other_processing(layout)
    out_rows = outcome_rows(layout.version, op)
    rows: dict[str, dict[str, int]] = {r: {c: outcomes.get(r, {}).get(c, 0) for c in C6} for r in out_rows}
    rows["outcome_total"] = {c: sum(rows[r][c] for r in out_rows) for c in C6}
    rows["carried_forward"] = {c: carried_forward.get(c, 0) for c in C6}
    rows["carried_over"] = {c: carried_over.get(c, 0) for c in C6}
    rows["new_received"] = {
        c: rows["outcome_total"][c] + rows["carried_forward"][c] - rows["carried_over"][c] for c in C6
    }
    if any(x < 0 for x in rows["new_received"].values()):
        raise ValueError("carried_over exceeds outcomes + carried_forward")
    for g in sorted(layout.subtotal_groups):
        rows[f"{g}.subtotal"] = {c: sum(rows[r][c] for r in out_rows if r.startswith(g + ".")) for c in C6}
    values: dict[str, Number] = {}
    for r, cols in rows.items():
        for c in C6:
            values[f"applications.{r}.{c}"] = cols[c]
        values[f"applications.{r}.total"] = sum(cols.values())
        if layout.lp_subtotal:
            values[f"applications.{r}.legal_person_subtotal"] = sum(cols[c] for c in LP_COMPONENTS)
    for g, _ in T4_GROUPS:
        leaves = {leaf: t4.get(g, {}).get(leaf, 0) for leaf in T4_PARTS}
        values.update({f"review_litigation.{g}.{leaf}": n for leaf, n in leaves.items()})
        values[f"review_litigation.{g}.total"] = sum(leaves.values())
    for spec in table2_specs(layout.version):
        values[spec.key] = t2.get(spec.key, Decimal("0") if spec.column.kind == "money" else 0)
    cells: dict[str, Cell] = {}
    for spec in cell_specs(layout):
        cells[spec.key] = reported(values[spec.key]) if spec.key in values else Cell(status="missing")
    return cells


counts = st.one_of(st.just(0), st.integers(0, 9), st.integers(0, 500))


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    """Both versions, D09 (2021 with one （六） row), D12 (法人 subtotal column), printed group subtotals."""
    version: Version = draw(st.sampled_from(VERSIONS))
    op: Literal["single_row", "subrows"] = (
        "single_row" if version == "2019" else draw(st.sampled_from(("subrows", "single_row")))
    )
    groups = ["withheld", "unable", "not_processed"] + (["other_processing"] if op == "subrows" else [])
    return Layout(version, op, draw(st.booleans()), draw(st.frozensets(st.sampled_from(groups), max_size=2)))


@st.composite
def consistent_reports(draw: st.DrawFn, layout: Layout | None = None) -> tuple[Layout, dict[str, Cell]]:
    """(layout, cells) where every identity of the layout holds and every printed cell is reported."""
    layout = layout or draw(layouts())
    op = _other_processing(layout)
    out_rows = outcome_rows(layout.version, op)
    outcomes = {r: {c: draw(counts) for c in C6} for r in out_rows}
    carried_forward = {c: draw(counts) for c in C6}
    ceiling = {c: sum(outcomes[r][c] for r in out_rows) + carried_forward[c] for c in C6}
    carried_over = {c: min(draw(counts), ceiling[c]) for c in C6}
    t4 = {g: {leaf: draw(counts) for leaf in T4_PARTS} for g, _ in T4_GROUPS}
    t2: dict[str, Number] = {}
    for spec in table2_specs(layout.version):
        if spec.column.kind == "money":
            t2[spec.key] = draw(
                st.decimals(0, 10**6, places=draw(st.integers(0, 6)), allow_nan=False, allow_infinity=False)
            )
        elif spec.column.kind == "int":
            t2[spec.key] = draw(counts)
    for spec in table2_specs(layout.version):
        prefix = spec.key.rsplit(".", 1)[0]
        if spec.column.kind == "signed":  # this year's item count must stay non-negative
            t2[spec.key] = draw(st.integers(-int(t2[prefix + ".items_prev_year"]), 500))
        if spec.column.key == "total_published":  # the stock includes this year's publications
            t2[spec.key] = int(t2[prefix + ".newly_published"]) + draw(counts)
    cells = build_cells(layout, outcomes, carried_over, carried_forward, t4, t2)
    return layout, cells


def table34_keys(layout: Layout, cells: Mapping[str, Cell]) -> list[str]:
    """Printed (reported) cells of tables 三 and 四, the ones the identities constrain."""
    return [
        s.key
        for s in cell_specs(layout)
        if s.table in ("applications", "review_litigation") and cells[s.key].status == "reported"
    ]


def table3_column_keys(layout: Layout) -> tuple[str, ...]:
    return tuple(c.key for c in table3_columns(layout))
