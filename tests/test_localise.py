"""Localisation: the over-determined table 三 points at a single wrong cell, and the fix says how."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gouji.schemas.cells import Cell
from gouji.schemas.localise import Change, FixProposal, _cell_hypotheses, implicated, propose_fixes
from gouji.schemas.rules import evaluate, failures
from gouji.schemas.template import Layout
from tests.strategies import build_cells, consistent_reports, table34_keys

L2019 = Layout.default("2019")
L2021 = Layout.default("2021")
A = "applications"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def publish(cells: Mapping[str, Cell], **values: int) -> dict[str, Cell]:
    """The report as printed: `values` maps key (dots as '__') to the published number."""
    out = dict(cells)
    for k, val in values.items():
        key = k.replace("__", ".")
        out[key] = cells[key].model_copy(update={"value": val, "raw": str(val)})
    return out


def base(layout: Layout = L2019) -> dict[str, Cell]:
    return build_cells(
        layout,
        outcomes={
            "disclosed": {"natural_person": 145, "commercial_enterprise": 3},
            "partially_disclosed": {"natural_person": 2},
        },
        carried_over={"natural_person": 1},
        carried_forward={"natural_person": 4},
        t4={"review": {"upheld": 10, "corrected": 2}},
    )


def test_consistent_report_needs_no_fix() -> None:
    assert propose_fixes(base(), L2019) == []
    assert implicated(base(), L2019) == {}


def test_dropped_digit_is_located_and_explained() -> None:
    cells = base()
    printed = publish(cells, applications__disclosed__natural_person=15)
    counts = implicated(printed, L2019)
    assert counts[f"{A}.disclosed.natural_person"] == 2
    assert max(counts.values()) == 2 and list(counts.values()).count(2) == 1
    (fix,) = propose_fixes(printed, L2019)
    assert fix.changes == [Change(key=f"{A}.disclosed.natural_person", current=15, proposed=145)]
    assert "dropped_digit" in fix.hypotheses
    assert set(fix.repairs) == {"T3.row_total[row=disclosed]", "T3.outcome_total[column=natural_person]"}
    assert printed[f"{A}.disclosed.natural_person"].value == 15  # never mutated
    assert failures(evaluate(fix.apply(printed), L2019)) == []


def test_column_shift_needs_a_pair() -> None:
    cells = build_cells(
        L2019, outcomes={"disclosed": {"natural_person": 5}, "partially_disclosed": {"natural_person": 2}}
    )
    printed = publish(
        cells, applications__disclosed__natural_person=0, applications__disclosed__commercial_enterprise=5
    )
    assert propose_fixes(printed, L2019, max_changes=1) == []
    (fix,) = propose_fixes(printed, L2019)
    assert {(c.key, c.current, c.proposed) for c in fix.changes} == {
        (f"{A}.disclosed.natural_person", 0, 5),
        (f"{A}.disclosed.commercial_enterprise", 5, 0),
    }
    assert "column_shift" in fix.hypotheses
    assert failures(evaluate(fix.apply(printed), L2019)) == []


def test_two_independent_errors() -> None:
    cells = base(L2021)
    printed = publish(cells, applications__disclosed__natural_person=154, review_litigation__review__upheld=1)
    fixes = propose_fixes(printed, L2021)
    assert fixes
    top = fixes[0]
    assert {c.key for c in top.changes} == {f"{A}.disclosed.natural_person", "review_litigation.review.upheld"}
    assert {"transposed_digits", "dropped_digit"} <= set(top.hypotheses)
    assert all(failures(evaluate(f.apply(printed), L2021)) == [] for f in fixes)


def test_fix_never_goes_negative() -> None:
    printed = publish(base(), review_litigation__review__total=5)  # leaves add to 12
    fixes = propose_fixes(printed, L2019)
    keys = {f.changes[0].key for f in fixes}
    # total → 12 or upheld → 3; corrected/other/pending would have to become negative
    assert keys == {"review_litigation.review.total", "review_litigation.review.upheld"}
    assert all(c.proposed >= 0 for f in fixes for c in f.changes)


def test_blank_operands_are_not_evaluated() -> None:
    cells = publish(base(), applications__disclosed__natural_person=15)
    cells[f"{A}.disclosed.total"] = Cell(status="blank")
    fixes = propose_fixes(cells, L2019)
    # only T3.outcome_total[natural_person] is evaluated: every row's natural_person cell could fix it
    assert fixes and all(len(f.changes) == 1 for f in fixes)
    assert f"{A}.disclosed.natural_person" in {f.changes[0].key for f in fixes}


def test_cell_hypotheses() -> None:
    def kinds(cur: int, new: int, before: int | None = None, after: int | None = None) -> set[str]:
        return {k for k, _ in _cell_hypotheses(cur, new, before, after)}

    assert "dropped_digit" in kinds(15, 145)
    assert "extra_digit" in kinds(145, 14)
    assert "transposed_digits" in kinds(21, 12)
    assert "fused_numbers" in kinds(3960, 396, after=0)
    assert "fused_numbers" in kinds(1012, 12, before=10)
    assert "split_number" in kinds(1, 14, after=4)
    assert "sign_lost" in kinds(-7, 7)
    assert kinds(8, 3) == set()


def test_proposal_model_round_trips() -> None:
    fix = FixProposal(changes=[Change(key="k", current=1, proposed=2)], repairs=["T4.total[group=review]"])
    assert FixProposal.model_validate_json(fix.model_dump_json()) == fix


# -- property: one wrong cell is found -----------------------------------------------------------


@SETTINGS
@given(consistent_reports(), st.data())
def test_single_perturbation_is_restored(report: tuple[Layout, dict[str, Cell]], data: st.DataObject) -> None:
    layout, cells = report
    key = data.draw(st.sampled_from(table34_keys(layout, cells)))
    old = cells[key].value
    assert isinstance(old, int)
    new = data.draw(st.integers(0, old + 50).filter(lambda x: x != old))
    printed = publish(cells, **{key.replace(".", "__"): new})
    assert key in implicated(printed, layout)
    fixes = propose_fixes(printed, layout)
    assert fixes
    if key.startswith("applications."):
        # table 三 is over-determined: the perturbed cell is the only single-cell explanation
        assert len(fixes) == 1
        assert fixes[0].changes == [Change(key=key, current=new, proposed=old)]
    else:
        # table 四 has one identity per group: the leaf or the total may be blamed
        assert all(len(f.changes) == 1 for f in fixes)
        assert any(f.changes[0].key == key and f.changes[0].proposed == old for f in fixes)
    for fix in fixes:
        assert failures(evaluate(fix.apply(printed), layout)) == []
    assert printed[key].value == new and cells[key].value == old
