"""The identity table of docs/spec.md §5: each identity passes on consistent data and fails when broken."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gouji.schemas import rules
from gouji.schemas.cells import Cell, Span
from gouji.schemas.report import CheckResult, NarrativeFact
from gouji.schemas.rules import (
    RULES,
    Instance,
    Rule,
    evaluate,
    evaluate_cross_year,
    evaluate_narrative,
    failures,
    instances,
    narrative_checks,
    v,
)
from gouji.schemas.template import C7, Layout
from tests.strategies import build_cells, consistent_reports, reported, table34_keys

L2019 = Layout.default("2019")
L2021 = Layout.default("2021")
D09 = Layout("2021", "single_row")
A = "applications"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sample(layout: Layout) -> dict[str, Cell]:
    """A small consistent report with non-zero numbers in several rows and columns."""
    op_row = (
        "other_processing.single_row"
        if layout.other_processing == "single_row" or layout.version == "2019"
        else "other_processing.other"
    )
    return build_cells(
        layout,
        outcomes={
            "disclosed": {"natural_person": 159, "commercial_enterprise": 3},
            "partially_disclosed": {"natural_person": 5},
            "unable.not_held": {"legal_service_org": 1},
            "withheld.state_secret": {"natural_person": 2, "other_org": 4},
            op_row: {"natural_person": 1},
        },
        carried_over={"natural_person": 1},
        carried_forward={"natural_person": 2},
        t4={
            "review": {"upheld": 4, "corrected": 5, "other_outcome": 1, "pending": 1},
            "litigation_direct": {"upheld": 1, "corrected": 2, "other_outcome": 1},
        },
    )


def with_cell(cells: Mapping[str, Cell], key: str, **update: object) -> dict[str, Cell]:
    out = dict(cells)
    out[key] = cells[key].model_copy(update=update)
    return out


def results_for(results: list[CheckResult], rule_id: str, **args: str) -> list[CheckResult]:
    return [r for r in results if r.id == rule_id and all(r.args.get(k) == val for k, val in args.items())]


def label(r: CheckResult) -> str:
    inner = ",".join(f"{k}={val}" for k, val in r.args.items())
    return f"{r.id}[{inner}]" if inner else r.id


# -- consistent data passes everything ------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        L2019,
        L2021,
        D09,
        Layout("2021", lp_subtotal=True),
        Layout("2019", "single_row", subtotal_groups=frozenset({"withheld"})),
    ],
)
def test_consistent_sample_passes_every_check(layout: Layout) -> None:
    results = evaluate(sample(layout), layout)
    assert results
    assert [r for r in results if r.status != "pass"] == []


@SETTINGS
@given(consistent_reports())
def test_generated_reports_are_consistent(report: tuple[Layout, dict[str, Cell]]) -> None:
    layout, cells = report
    assert [label(r) for r in evaluate(cells, layout) if r.status != "pass"] == []


def test_rule_ids_and_counts_match_the_spec() -> None:
    ids = {r.id for r in RULES}
    assert {
        "T3.row_total",
        "T3.lp_subtotal",
        "T3.outcome_total",
        "T3.balance",
        "T3.group_subtotal",
        "T3.bounds",
        "T4.total",
        "T2_2019.items_nonneg",
        "T2_2019.published_le_total",
        "T2.int",
        "T2.signed_change",
        "T2.money",
        "T3.int",
        "T4.int",
        "X.T3.carry",
        "X.T2_2021.valid",
        "X.T2_2021.repealed_le_stock",
        "X.T2_2019.items",
        "X.T2_2019.published",
    } <= ids
    count: dict[str, dict[str, int]] = {lay.version: {} for lay in (L2019, L2021)}
    for lay in (L2019, L2021):
        for inst in instances(lay):
            count[lay.version][inst.id] = count[lay.version].get(inst.id, 0) + 1
    assert count["2019"]["T3.row_total"] == 23 and count["2021"]["T3.row_total"] == 25
    assert count["2019"]["T3.outcome_total"] == 7 and count["2019"]["T3.balance"] == 7
    assert count["2019"]["T4.total"] == 3 and count["2019"]["T3.bounds"] == 14
    assert count["2019"]["T2_2019.items_nonneg"] == 5 and count["2019"]["T2_2019.published_le_total"] == 2
    assert "T2_2019.items_nonneg" not in count["2021"]


def test_keys_are_flat_cell_keys() -> None:
    for lay in (L2019, L2021, D09, Layout("2021", lp_subtotal=True, subtotal_groups=frozenset({"unable"}))):
        cells = sample(lay)
        for inst in instances(lay):
            assert set(inst.keys) <= set(cells), inst.label
    row = next(i for i in instances(L2019) if i.id == "T3.row_total" and i.arg_dict == {"row": "withheld.state_secret"})
    assert row.lhs == ((1, f"{A}.withheld.state_secret.total"),)
    assert len(row.rhs) == 6


# -- every identity fails when broken ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "key", "args"),
    [
        ("T3.row_total", f"{A}.withheld.state_secret.total", {"row": "withheld.state_secret"}),
        ("T3.outcome_total", f"{A}.outcome_total.natural_person", {"column": "natural_person"}),
        ("T3.balance", f"{A}.carried_forward.total", {"column": "total"}),
        ("T4.total", "review_litigation.review.total", {"group": "review"}),
    ],
)
def test_equalities_fail_with_source_anomaly(rule_id: str, key: str, args: dict[str, str]) -> None:
    cells = sample(L2019)
    broken = with_cell(cells, key, value=int(cells[key].value or 0) + 1)
    (res,) = results_for(evaluate(broken, L2019), rule_id, **args)
    assert res.status == "fail" and res.severity == "error" and res.source_anomaly
    assert key in res.operands and res.lhs != res.rhs


def test_bounds_fail_when_outcomes_exceed_workload() -> None:
    cells = sample(L2021)
    broken = with_cell(cells, f"{A}.outcome_total.natural_person", value=1000)
    (res,) = results_for(evaluate(broken, L2021), "T3.bounds", row="outcome_total", column="natural_person")
    assert res.status == "fail" and res.lhs == 1000
    (ok,) = results_for(evaluate(broken, L2021), "T3.bounds", row="carried_forward", column="natural_person")
    assert ok.status == "pass"


def test_items_nonneg_and_published_le_total() -> None:
    ad = "active_disclosure"
    cells = build_cells(
        L2019,
        t2={
            f"{ad}.art20_5.administrative_licensing.items_prev_year": 60,
            f"{ad}.art20_5.administrative_licensing.items_change": -7,
            f"{ad}.art20_1.normative_documents.newly_published": 77,
            f"{ad}.art20_1.normative_documents.total_published": 166,
        },
    )
    res = evaluate(cells, L2019)
    (nonneg,) = results_for(res, "T2_2019.items_nonneg", row="art20_5.administrative_licensing")
    assert (nonneg.status, nonneg.lhs, nonneg.rhs) == ("pass", 53, 0)
    cells = with_cell(cells, f"{ad}.art20_5.administrative_licensing.items_change", value=-61)
    cells = with_cell(cells, f"{ad}.art20_1.normative_documents.total_published", value=7)
    res = evaluate(cells, L2019)
    assert results_for(res, "T2_2019.items_nonneg", row="art20_5.administrative_licensing")[0].status == "fail"
    (pub,) = results_for(res, "T2_2019.published_le_total", row="art20_1.normative_documents")
    assert (pub.status, pub.severity, pub.source_anomaly) == ("fail", "warning", False)


# -- strict vs lenient --------------------------------------------------------------------------


def test_blank_is_skipped_strictly_and_zero_leniently() -> None:
    cells = with_cell(sample(L2019), f"{A}.disclosed.research_institution", value=None, status="blank", raw="")
    res = results_for(evaluate(cells, L2019), "T3.row_total", row="disclosed")
    assert [(r.status, r.lenient) for r in res] == [("skipped", False), ("pass", True)]
    assert res[1].lhs == res[1].rhs == 162 and not res[1].source_anomaly
    col = results_for(evaluate(cells, L2019), "T3.outcome_total", column="research_institution")
    assert [(r.status, r.lenient) for r in col] == [("skipped", False), ("pass", True)]


def test_lenient_failure_is_not_a_failure() -> None:
    cells = with_cell(sample(L2019), f"{A}.disclosed.natural_person", value=None, status="dash", raw="—")
    res = results_for(evaluate(cells, L2019), "T3.row_total", row="disclosed")
    assert [(r.status, r.lenient) for r in res] == [("skipped", False), ("fail", True)]
    assert failures(res) == []


@pytest.mark.parametrize("status", ["not_applicable", "missing", "unparseable"])
def test_not_applicable_and_missing_are_never_lenient(status: str) -> None:
    cells = with_cell(sample(L2019), f"{A}.disclosed.research_institution", value=None, status=status, raw="/")
    res = results_for(evaluate(cells, L2019), "T3.row_total", row="disclosed")
    assert [(r.status, r.lenient) for r in res] == [("skipped", False)]
    cells.pop(f"{A}.disclosed.total")
    res = results_for(evaluate(cells, L2019), "T3.row_total", row="disclosed")
    assert [(r.status, r.lenient) for r in res] == [("skipped", False)]


def test_reconstructed_operand_is_not_a_source_anomaly() -> None:
    key = f"{A}.disclosed.total"
    cells = with_cell(sample(L2019), key, value=999, flags=["reconstructed"])
    (res,) = results_for(evaluate(cells, L2019), "T3.row_total", row="disclosed")
    assert res.status == "fail" and not res.source_anomaly


# -- layout variants ----------------------------------------------------------------------------


def test_d09_single_row_in_2021_outcome_total() -> None:
    cells = sample(D09)
    assert cells[f"{A}.other_processing.other.total"].status == "missing"
    (inst,) = [i for i in instances(D09) if i.id == "T3.outcome_total" and i.arg_dict == {"column": "total"}]
    assert f"{A}.other_processing.single_row.total" in inst.keys
    assert not any(k.startswith(f"{A}.other_processing.other") for k in inst.keys)
    assert len(inst.rhs) == 19
    rows = {i.arg_dict["row"] for i in instances(D09) if i.id == "T3.row_total"}
    assert "other_processing.single_row" in rows and "other_processing.other" not in rows
    assert all(r.status == "pass" for r in evaluate(cells, D09))
    (sub,) = [i for i in instances(L2021) if i.id == "T3.outcome_total" and i.arg_dict == {"column": "total"}]
    assert len(sub.rhs) == 21 and f"{A}.other_processing.fee_unpaid_overdue.total" in sub.keys


def test_lp_subtotal_column() -> None:
    lay = Layout("2021", lp_subtotal=True)
    cells = sample(lay)
    (row,) = [i for i in instances(lay) if i.id == "T3.row_total" and i.arg_dict == {"row": "disclosed"}]
    assert {k for _, k in row.rhs} == {f"{A}.disclosed.natural_person", f"{A}.disclosed.legal_person_subtotal"}
    assert not [i for i in instances(L2021) if i.id == "T3.lp_subtotal"]
    key = f"{A}.disclosed.legal_person_subtotal"
    broken = with_cell(cells, key, value=int(cells[key].value or 0) + 2)
    failed = {label(r) for r in failures(evaluate(broken, lay))}
    assert failed == {
        "T3.lp_subtotal[row=disclosed]",
        "T3.row_total[row=disclosed]",
        "T3.outcome_total[column=legal_person_subtotal]",
    }


def test_collapsed_columns_check_on_lp_and_total_only() -> None:
    """D11: the five sub-columns were never printed; the rest of table 三 still checks."""
    lay = Layout("2019", "single_row", lp_subtotal=True)
    cells = {k: (Cell(status="missing") if k.split(".")[-1] in C7[1:6] else c) for k, c in sample(lay).items()}
    res = evaluate(cells, lay)
    assert {r.status for r in results_for(res, "T3.lp_subtotal")} == {"skipped"}
    assert {r.status for r in results_for(res, "T3.row_total")} == {"pass"}
    assert not any(r.lenient for r in res)


def test_group_subtotal() -> None:
    lay = Layout("2019", "single_row", subtotal_groups=frozenset({"withheld", "unable"}))
    cells = sample(lay)
    assert cells[f"{A}.withheld.subtotal.natural_person"].value == 2
    insts = [i for i in instances(lay) if i.id == "T3.group_subtotal"]
    assert len(insts) == 14
    (g,) = [i for i in insts if i.arg_dict == {"group": "withheld", "column": "other_org"}]
    assert len(g.rhs) == 8 and f"{A}.withheld.subtotal.other_org" not in {k for _, k in g.rhs}
    # the printed subtotal must not be counted again in （七）总计
    (ot,) = [i for i in instances(lay) if i.id == "T3.outcome_total" and i.arg_dict == {"column": "other_org"}]
    assert not any("subtotal" in k for k in ot.keys)
    broken = with_cell(cells, f"{A}.withheld.subtotal.other_org", value=5)
    failed = {label(r) for r in failures(evaluate(broken, lay))}
    assert failed == {"T3.group_subtotal[group=withheld,column=other_org]", "T3.row_total[row=withheld.subtotal]"}


# -- type and sign ------------------------------------------------------------------------------


def test_type_rules() -> None:
    ad = "active_disclosure"
    cells = build_cells(
        L2019,
        t2={
            f"{ad}.art20_9.centralized_procurement.procurement_amount": Decimal("36521.44"),
            f"{ad}.art20_6.administrative_penalty.items_prev_year": 885,
            f"{ad}.art20_6.administrative_penalty.items_change": -48,
        },
    )
    res = {
        r.id: r
        for r in evaluate(cells, L2019)
        if r.id in ("T2.int", "T2.signed_change", "T2.money", "T3.int", "T4.int")
    }
    assert {k: r.status for k, r in res.items()} == dict.fromkeys(res, "pass")
    bad = with_cell(cells, f"{ad}.art20_9.centralized_procurement.procurement_amount", value=Decimal("-1"))
    bad = with_cell(bad, f"{ad}.art20_1.regulations.newly_made", value=Decimal("5"))
    bad = with_cell(bad, f"{A}.disclosed.natural_person", value=-3)
    bad = with_cell(bad, "review_litigation.review.pending", value=Decimal("0.5"))
    bad = with_cell(bad, f"{ad}.art20_6.administrative_penalty.items_change", value=Decimal("-48"))
    res = {r.id: r for r in evaluate(bad, L2019)}
    assert res["T2.money"].operands == [f"{ad}.art20_9.centralized_procurement.procurement_amount"]
    assert res["T2.int"].operands == [f"{ad}.art20_1.regulations.newly_made"]
    assert res["T3.int"].operands == [f"{A}.disclosed.natural_person"]
    assert res["T4.int"].operands == ["review_litigation.review.pending"]
    assert res["T2.signed_change"].operands == [f"{ad}.art20_6.administrative_penalty.items_change"]
    assert all(res[k].status == "fail" for k in ("T2.money", "T2.int", "T3.int", "T4.int", "T2.signed_change"))


def test_money_2021_and_int_money() -> None:
    key = "active_disclosure.art20_8.administrative_fees.fee_amount"
    for value in (Decimal("24252.311082"), Decimal("0.092"), 7545):
        cells = build_cells(L2021, t2={key: value})
        assert results_for(evaluate(cells, L2021), "T2.money")[0].status == "pass"
    cells = build_cells(L2021, t2={key: Decimal("-0.092")})
    assert results_for(evaluate(cells, L2021), "T2.money")[0].status == "fail"
    assert "T2.signed_change" not in {r.id for r in evaluate(cells, L2021)}


def test_a_new_rule_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact Decimal arithmetic, reported as a string, through the same evaluator."""
    key = "active_disclosure.art20_8.administrative_fees.fee_amount"
    extra = Rule("T2.fee_nonneg", "ge0", lhs=(v(key),), severity="info", versions=frozenset({"2021"}))
    monkeypatch.setattr(rules, "RULES", (*RULES, extra))
    cells = build_cells(L2021, t2={key: Decimal("0.092")})
    (res,) = results_for(evaluate(cells, L2021), "T2.fee_nonneg")
    assert (res.status, res.lhs, res.rhs, res.severity) == ("pass", "0.092", 0, "info")
    cells = build_cells(L2021, t2={key: Decimal("-0.100")})
    (res,) = results_for(evaluate(cells, L2021), "T2.fee_nonneg")
    assert (res.status, res.lhs) == ("fail", "-0.100")
    assert not res.source_anomaly


# -- cross-year ---------------------------------------------------------------------------------


def test_carry_across_template_change() -> None:
    prev = build_cells(L2019, outcomes={"disclosed": {"natural_person": 20}}, carried_forward={"natural_person": 1})
    cur = build_cells(L2021, outcomes={"disclosed": {"natural_person": 70}}, carried_over={"natural_person": 1})
    res = evaluate_cross_year(prev, L2019, cur, L2021)
    assert {r.id for r in res} == {"X.T3.carry"}
    assert len(res) == 7 and all(r.status == "pass" and r.severity == "warning" for r in res)
    (np_,) = results_for(res, "X.T3.carry", column="natural_person")
    assert np_.operands == [f"cur:{A}.carried_over.natural_person", f"prev:{A}.carried_forward.natural_person"]
    cur = with_cell(cur, f"{A}.carried_over.total", value=2)
    (tot,) = results_for(evaluate_cross_year(prev, L2019, cur, L2021), "X.T3.carry", column="total")
    assert (tot.status, tot.lhs, tot.rhs, tot.source_anomaly) == ("fail", 2, 1, False)


def test_t2_2021_stock_identities() -> None:
    ad = "active_disclosure.art20_1.normative_documents"
    prev = build_cells(L2021, t2={f"{ad}.currently_valid": 5})
    cur = build_cells(L2021, t2={f"{ad}.issued": 3, f"{ad}.repealed": 0, f"{ad}.currently_valid": 8})
    res = evaluate_cross_year(prev, L2021, cur, L2021)
    (valid,) = results_for(res, "X.T2_2021.valid", row="art20_1.normative_documents")
    assert (valid.status, valid.lhs, valid.rhs) == ("pass", 8, 8)
    # [S-PT2022]→[S-PT2023]: 698 + 77 − 132 ≠ 470 (re-baselined)
    prev = build_cells(L2021, t2={f"{ad}.currently_valid": 698})
    cur = build_cells(L2021, t2={f"{ad}.issued": 77, f"{ad}.repealed": 132, f"{ad}.currently_valid": 470})
    res = evaluate_cross_year(prev, L2021, cur, L2021)
    (valid,) = results_for(res, "X.T2_2021.valid", row="art20_1.normative_documents")
    assert (valid.status, valid.lhs, valid.rhs) == ("fail", 470, 643)
    (le,) = results_for(res, "X.T2_2021.repealed_le_stock", row="art20_1.normative_documents")
    assert le.status == "pass"
    cur = with_cell(cur, "active_disclosure.art20_1.normative_documents.repealed", value=800)
    (le,) = results_for(
        evaluate_cross_year(prev, L2021, cur, L2021), "X.T2_2021.repealed_le_stock", row="art20_1.normative_documents"
    )
    assert le.status == "fail"


def test_t2_2019_items_and_published() -> None:
    ad = "active_disclosure"
    prev = build_cells(
        L2019,
        t2={
            f"{ad}.art20_5.administrative_licensing.items_prev_year": 396,
            f"{ad}.art20_1.normative_documents.total_published": 89,
        },
    )
    cur = build_cells(
        L2019,
        t2={
            f"{ad}.art20_5.administrative_licensing.items_prev_year": 396,
            f"{ad}.art20_1.normative_documents.newly_published": 77,
            f"{ad}.art20_1.normative_documents.total_published": 166,
            f"{ad}.art20_1.regulations.total_published": 7,
        },
    )
    res = evaluate_cross_year(prev, L2019, cur, L2019)
    assert results_for(res, "X.T2_2019.items", row="art20_5.administrative_licensing")[0].status == "pass"
    assert results_for(res, "X.T2_2019.published", row="art20_1.normative_documents")[0].status == "pass"
    (reg,) = results_for(res, "X.T2_2019.published", row="art20_1.regulations")
    assert (reg.status, reg.lhs, reg.rhs) == ("fail", 7, 0)
    assert not results_for(res, "X.T2_2021.valid")
    assert not results_for(evaluate_cross_year(prev, L2019, sample(L2021), L2021), "X.T2_2019.items")


# -- narrative ----------------------------------------------------------------------------------


def fact(kind: str, value: int | None) -> NarrativeFact:
    return NarrativeFact(kind=kind, value=value, text=f"{kind} {value}件", prov=Span(start=0, end=5))


def test_received_fails_on_the_seed_reading() -> None:
    cells = build_cells(
        L2019,
        outcomes={
            "disclosed": {"natural_person": 159},
            "partially_disclosed": {"natural_person": 5},
            "other_processing.single_row": {"natural_person": 1},
        },
    )
    assert cells[f"{A}.new_received.total"].value == 165
    facts = [fact("applications_received", 77)]
    (out,) = evaluate_narrative(facts, cells, L2019)
    assert (out.check, out.status, out.matched) == ("N.received", "fail", None)
    assert out.compared_with == [f"{A}.new_received.total", f"{A}.carried_over.total"]
    assert facts[0].status is None  # input untouched
    (chk,) = narrative_checks([out], cells, L2019)
    assert (chk.id, chk.severity, chk.status, chk.lhs, chk.rhs) == ("N.received", "warning", "fail", 77, 165)


def test_received_new_plus_carried() -> None:
    cells = build_cells(
        L2021,
        outcomes={"disclosed": {"natural_person": 74}, "partially_disclosed": {"natural_person": 1}},
        carried_over={"natural_person": 1},
    )
    assert (cells[f"{A}.new_received.total"].value, cells[f"{A}.carried_over.total"].value) == (74, 1)
    out = evaluate_narrative([fact("applications_received", 75), fact("applications_received", 74)], cells, L2021)
    assert [(f.status, f.matched) for f in out] == [("pass", "new+carried"), ("pass", "new")]
    checks = narrative_checks(out, cells, L2021)
    assert [(c.status, c.rhs, c.args["matched"]) for c in checks] == [("pass", 75, "new+carried"), ("pass", 74, "new")]


def test_other_narrative_kinds() -> None:
    cells = sample(L2021)
    ad = "active_disclosure.art20_1.normative_documents"
    cells = with_cell(cells, f"{ad}.currently_valid", value=393)
    cells = with_cell(cells, f"{ad}.issued", value=77)
    facts = [
        fact("applications_closed", 175),
        fact("carried_forward", 2),
        fact("carried_in", 1),
        fact("review_cases", 11),
        fact("litigation_cases", 4),
        fact("docs_valid", 393),
        fact("docs_issued", 78),
        fact("outcome:withheld", 6),
        fact("processing_fee_yuan", 3940),
        fact("review_cases", None),
    ]
    out = evaluate_narrative(facts, cells, L2021)
    assert [(f.check, f.status) for f in out] == [
        ("N.closed", "pass"),
        ("N.carried_forward", "pass"),
        ("N.carried_in", "pass"),
        ("N.review", "pass"),
        ("N.litigation", "pass"),
        ("N.docs", "pass"),
        ("N.docs", "fail"),
        ("N.outcome", "pass"),
        (None, None),
        ("N.review", "skipped"),
    ]
    assert len(narrative_checks(out)) == 9
    assert all(c.severity == "warning" for c in narrative_checks(out))
    (docs,) = evaluate_narrative([fact("docs_valid", 5)], sample(L2019), L2019)
    assert (docs.check, docs.status) == ("N.docs", "skipped")


def test_narrative_blank_table_is_skipped() -> None:
    cells = with_cell(sample(L2019), "review_litigation.review.total", value=None, status="blank")
    (out,) = evaluate_narrative([fact("review_cases", 11)], cells, L2019)
    assert out.status == "skipped"


# -- property: a single perturbation breaks exactly the identities through that cell ----------


@SETTINGS
@given(consistent_reports(), st.data())
def test_one_perturbation_breaks_exactly_its_identities(
    report: tuple[Layout, dict[str, Cell]], data: st.DataObject
) -> None:
    layout, cells = report
    key = data.draw(st.sampled_from(table34_keys(layout, cells)))
    value = cells[key].value
    assert isinstance(value, int)
    old = value
    new = data.draw(st.integers(0, old + 50).filter(lambda x: x != old))
    broken = with_cell(cells, key, value=new, raw=str(new))
    failed = {label(r) for r in failures(evaluate(broken, layout))}
    containing: list[Instance] = [i for i in instances(layout) if key in i.keys]
    eqs = {i.label for i in containing if i.op == "eq"}
    # Every equality through the cell moves by the perturbation; a bound (≤) through it may still hold;
    # nothing that does not contain the cell may fail.
    assert eqs and eqs <= failed
    assert failed <= {i.label for i in containing}
    assert {f for f in failed if f in {i.label for i in instances(layout) if i.op == "eq"}} == eqs


def test_reported_helper_round_trips() -> None:
    assert reported(Decimal("1.50")).model_dump(mode="json")["value"] == "1.50"
