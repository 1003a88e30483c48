"""Every identity of docs/spec.md §5 declared as one table of data, read by one evaluator.

The identities are the only ground truth the pipeline has about the numbers: the checker reports
them, the splitter of fused digit runs (D22) keeps only splits that satisfy them, and the localiser
solves them for a suspect cell. Declaring them once, as data, keeps those three consistent, and a
new identity is one entry in `RULES` (plus, at most, a named domain), never a new code path.

Keys are the flat keys of docs/cell-keys.md. Cross-year rules address the two reports as "prev:<key>" and
"cur:<key>". Arithmetic is exact (int / Decimal): a float here would turn "0.092 万元" into a
rounding question, which a validator must never have.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from gouji.schemas.cells import Cell
from gouji.schemas.report import CheckResult, NarrativeFact
from gouji.schemas.template import (
    C7,
    LP_COMPONENTS,
    LP_SUBTOTAL,
    T4_GROUPS,
    CellKind,
    Layout,
    Version,
    cell_specs,
    outcome_rows,
    table3_columns,
    table3_rows,
)

Severity = Literal["error", "warning", "info"]
Op = Literal["eq", "le", "ge0", "type"]
Number = int | Decimal
Args = Mapping[str, str]
# A domain is either a literal tuple of values or the name of an entry in DOMAINS (which may depend
# on the layout and on the arguments bound so far, e.g. the sub-rows of the bound group).
Domain = str | tuple[str, ...]

BOTH: frozenset[Version] = frozenset({"2019", "2021"})
V2019: frozenset[Version] = frozenset({"2019"})
V2021: frozenset[Version] = frozenset({"2021"})

# Blank and dash are how agencies write zero (D14/D16); "/" means "does not apply" (D15) and a
# missing or unparseable cell has no number at all, so only the first two may be read as 0.
LENIENT_STATUSES = frozenset({"blank", "dash"})


@dataclass(frozen=True)
class Term:
    """`coef × cell`, or `coef × Σ cells` when `each = (var, domain)` binds a summation variable."""

    key: str
    coef: int = 1
    each: tuple[str, Domain] | None = None


def v(key: str, coef: int = 1) -> Term:
    return Term(key, coef)


def total(key: str, var: str, domain: Domain) -> Term:
    return Term(key, 1, (var, domain))


def _always(_: Layout) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """One identity of §5. `op` "type" rules check each cell of the `over` domain against `expect`."""

    id: str
    op: Op
    lhs: tuple[Term, ...] = ()
    rhs: tuple[Term, ...] = ()
    over: tuple[tuple[str, Domain], ...] = ()
    severity: Severity = "error"
    versions: frozenset[Version] = BOTH
    when: Callable[[Layout], bool] = _always
    expect: CellKind | None = None
    cross_year: bool = False


@dataclass(frozen=True)
class Instance:
    """A rule with its arguments bound: concrete flat keys and integer coefficients."""

    id: str
    args: tuple[tuple[str, str], ...]
    op: Op
    lhs: tuple[tuple[int, str], ...]
    rhs: tuple[tuple[int, str], ...]
    severity: Severity
    cross_year: bool = False

    @property
    def arg_dict(self) -> dict[str, str]:
        return dict(self.args)

    @property
    def label(self) -> str:
        inner = ",".join(f"{k}={val}" for k, val in self.args)
        return f"{self.id}[{inner}]" if inner else self.id

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for _, k in (*self.lhs, *self.rhs)))

    def coefficients(self) -> dict[str, int]:
        """Net coefficient of each cell in `lhs − rhs`, the form the localiser solves."""
        out: dict[str, int] = {}
        for c, k in self.lhs:
            out[k] = out.get(k, 0) + c
        for c, k in self.rhs:
            out[k] = out.get(k, 0) - c
        return out

    def sides(self, values: Mapping[str, Number]) -> tuple[Number, Number]:
        lhs: Number = sum((c * values[k] for c, k in self.lhs), 0)
        rhs: Number = sum((c * values[k] for c, k in self.rhs), 0)
        return lhs, rhs

    def holds(self, values: Mapping[str, Number]) -> bool:
        lhs, rhs = self.sides(values)
        if self.op == "eq":
            return lhs == rhs
        if self.op == "le":
            return lhs <= rhs
        if self.op == "ge0":
            return lhs >= 0
        raise ValueError(f"{self.id}: type rules are not linear")


# ---------------------------------------------------------------------------------------------
# Domains


def _other_processing(layout: Layout) -> Literal["single_row", "subrows"]:
    # The 2019 form only has the single （六） row, whatever a hand-built Layout says.
    return "single_row" if layout.version == "2019" else layout.other_processing


def _data_rows(layout: Layout) -> tuple[str, ...]:
    """Rows that carry numbers in this layout (a D09 report's empty 2021 sub-rows are not among them)."""
    return tuple(r.key for r in table3_rows(layout.version, _other_processing(layout)))


def _cells(table: str, kind: CellKind | None = None) -> Callable[[Layout, Args], tuple[str, ...]]:
    def domain(layout: Layout, _: Args) -> tuple[str, ...]:
        return tuple(s.key for s in cell_specs(layout) if s.table == table and (kind is None or s.column.kind == kind))

    return domain


DOMAINS: dict[str, Callable[[Layout, Args], tuple[str, ...]]] = {
    "t3_rows": lambda lay, _: (*_data_rows(lay), *(f"{g}.subtotal" for g in sorted(lay.subtotal_groups))),
    "t3_columns": lambda lay, _: tuple(c.key for c in table3_columns(lay)),
    # With a printed 法人或其他组织 column the total is natural person + that subtotal (D11/D12).
    "row_parts": lambda lay, _: ("natural_person", LP_SUBTOTAL.key) if lay.lp_subtotal else C7[:6],
    "out_rows": lambda lay, _: outcome_rows(lay.version, _other_processing(lay)),
    "subtotal_groups": lambda lay, _: tuple(sorted(lay.subtotal_groups)),
    "group_rows": lambda lay, a: tuple(r for r in _data_rows(lay) if r.startswith(a["group"] + ".")),
    "t2_int_cells": _cells("active_disclosure", "int"),
    "t2_signed_cells": _cells("active_disclosure", "signed"),
    "t2_money_cells": _cells("active_disclosure", "money"),
    "t3_cells": _cells("applications"),
    "t4_cells": _cells("review_litigation"),
}

T4_GROUP_KEYS: tuple[str, ...] = tuple(g for g, _ in T4_GROUPS)
T4_PARTS: tuple[str, ...] = ("upheld", "corrected", "other_outcome", "pending")
ITEM_ROWS_2019: tuple[str, ...] = (
    "art20_5.administrative_licensing",
    "art20_5.other_external_services",
    "art20_6.administrative_penalty",
    "art20_6.administrative_coercion",
    "art20_8.administrative_fees",
)
DOC_ROWS: tuple[str, ...] = ("art20_1.regulations", "art20_1.normative_documents")

_A = "applications"
_AD = "active_disclosure"
_RL = "review_litigation"

_CELL = (v("{cell}"),)  # a type rule's single operand: the bound cell

# ---------------------------------------------------------------------------------------------
# The rule table (docs/spec.md §5)

RULES: tuple[Rule, ...] = (
    # §5.1 type and sign
    Rule("T2.int", "type", lhs=_CELL, over=(("cell", "t2_int_cells"),), expect="int"),
    Rule("T2.signed_change", "type", lhs=_CELL, over=(("cell", "t2_signed_cells"),), expect="signed", versions=V2019),
    Rule("T2.money", "type", lhs=_CELL, over=(("cell", "t2_money_cells"),), expect="money"),
    Rule("T3.int", "type", lhs=_CELL, over=(("cell", "t3_cells"),), expect="int"),
    Rule("T4.int", "type", lhs=_CELL, over=(("cell", "t4_cells"),), expect="int"),
    # §5.2 table 二
    Rule(
        "T2_2019.items_nonneg",
        "ge0",
        lhs=(v(_AD + ".{row}.items_prev_year"), v(_AD + ".{row}.items_change")),
        over=(("row", ITEM_ROWS_2019),),
        versions=V2019,
    ),
    Rule(
        "T2_2019.published_le_total",
        "le",
        lhs=(v(_AD + ".{row}.newly_published"),),
        rhs=(v(_AD + ".{row}.total_published"),),
        over=(("row", DOC_ROWS),),
        severity="warning",
        versions=V2019,
    ),
    # §5.3 table 三
    Rule(
        "T3.row_total",
        "eq",
        lhs=(v(_A + ".{row}.total"),),
        rhs=(total(_A + ".{row}.{c}", "c", "row_parts"),),
        over=(("row", "t3_rows"),),
    ),
    Rule(
        "T3.lp_subtotal",
        "eq",
        lhs=(v(_A + ".{row}.legal_person_subtotal"),),
        rhs=(total(_A + ".{row}.{c}", "c", LP_COMPONENTS),),
        over=(("row", "t3_rows"),),
        when=lambda lay: lay.lp_subtotal,
    ),
    Rule(
        "T3.outcome_total",
        "eq",
        lhs=(v(_A + ".outcome_total.{column}"),),
        rhs=(total(_A + ".{r}.{column}", "r", "out_rows"),),
        over=(("column", "t3_columns"),),
    ),
    Rule(
        "T3.balance",
        "eq",
        lhs=(v(_A + ".new_received.{column}"), v(_A + ".carried_over.{column}")),
        rhs=(v(_A + ".outcome_total.{column}"), v(_A + ".carried_forward.{column}")),
        over=(("column", "t3_columns"),),
    ),
    Rule(
        "T3.group_subtotal",
        "eq",
        lhs=(v(_A + ".{group}.subtotal.{column}"),),
        rhs=(total(_A + ".{r}.{column}", "r", "group_rows"),),
        over=(("group", "subtotal_groups"), ("column", "t3_columns")),
        when=lambda lay: bool(lay.subtotal_groups),
    ),
    Rule(
        "T3.bounds",
        "le",
        lhs=(v(_A + ".{row}.{column}"),),
        rhs=(v(_A + ".new_received.{column}"), v(_A + ".carried_over.{column}")),
        over=(("row", ("outcome_total", "carried_forward")), ("column", "t3_columns")),
    ),
    # §5.4 table 四
    Rule(
        "T4.total",
        "eq",
        lhs=(v(_RL + ".{group}.total"),),
        rhs=(total(_RL + ".{group}.{leaf}", "leaf", T4_PARTS),),
        over=(("group", T4_GROUP_KEYS),),
    ),
    # §5.5 cross-year (Y−1 → Y); agencies re-baseline, so these only warn
    Rule(
        "X.T3.carry",
        "eq",
        lhs=(v("cur:" + _A + ".carried_over.{column}"),),
        rhs=(v("prev:" + _A + ".carried_forward.{column}"),),
        over=(("column", C7),),
        severity="warning",
        cross_year=True,
    ),
    Rule(
        "X.T2_2021.valid",
        "eq",
        lhs=(v("cur:" + _AD + ".{row}.currently_valid"),),
        rhs=(
            v("prev:" + _AD + ".{row}.currently_valid"),
            v("cur:" + _AD + ".{row}.issued"),
            v("cur:" + _AD + ".{row}.repealed", -1),
        ),
        over=(("row", DOC_ROWS),),
        severity="warning",
        versions=V2021,
        cross_year=True,
    ),
    Rule(
        "X.T2_2021.repealed_le_stock",
        "le",
        lhs=(v("cur:" + _AD + ".{row}.repealed"),),
        rhs=(v("prev:" + _AD + ".{row}.currently_valid"), v("cur:" + _AD + ".{row}.issued")),
        over=(("row", DOC_ROWS),),
        severity="warning",
        versions=V2021,
        cross_year=True,
    ),
    Rule(
        "X.T2_2019.items",
        "eq",
        lhs=(v("cur:" + _AD + ".{row}.items_prev_year"),),
        rhs=(v("prev:" + _AD + ".{row}.items_prev_year"), v("prev:" + _AD + ".{row}.items_change")),
        over=(("row", ITEM_ROWS_2019),),
        severity="warning",
        versions=V2019,
        cross_year=True,
    ),
    Rule(
        "X.T2_2019.published",
        "eq",
        lhs=(v("cur:" + _AD + ".{row}.total_published"),),
        rhs=(v("prev:" + _AD + ".{row}.total_published"), v("cur:" + _AD + ".{row}.newly_published")),
        over=(("row", DOC_ROWS),),
        severity="warning",
        versions=V2019,
        cross_year=True,
    ),
)


# ---------------------------------------------------------------------------------------------
# Expansion


def _domain(domain: Domain, layout: Layout, args: Args) -> tuple[str, ...]:
    return domain if isinstance(domain, tuple) else DOMAINS[domain](layout, args)


def _bindings(over: Sequence[tuple[str, Domain]], layout: Layout, args: dict[str, str]) -> Iterator[dict[str, str]]:
    if not over:
        yield dict(args)
        return
    (name, domain), rest = over[0], over[1:]
    for value in _domain(domain, layout, args):
        yield from _bindings(rest, layout, {**args, name: value})


def _expand_terms(terms: Sequence[Term], layout: Layout, args: Args) -> tuple[tuple[int, str], ...]:
    out: list[tuple[int, str]] = []
    for t in terms:
        if t.each is None:
            out.append((t.coef, t.key.format(**args)))
        else:
            var, domain = t.each
            out.extend((t.coef, t.key.format(**args, **{var: x})) for x in _domain(domain, layout, args))
    return tuple(out)


@functools.cache
def expand(rule: Rule, layout: Layout) -> tuple[Instance, ...]:
    """A rule's concrete instances for a layout (cached: a batch has few distinct layouts)."""
    return tuple(
        Instance(
            rule.id,
            tuple(args.items()),
            rule.op,
            _expand_terms(rule.lhs, layout, args),
            _expand_terms(rule.rhs, layout, args),
            rule.severity,
            rule.cross_year,
        )
        for args in _bindings(rule.over, layout, {})
    )


def _applies(rule: Rule, *layouts: Layout) -> bool:
    return all(lay.version in rule.versions for lay in layouts) and rule.when(layouts[-1])


def instances(layout: Layout) -> list[Instance]:
    """The linear in-table identities of a layout, with concrete keys (what the localiser solves)."""
    return [
        inst
        for rule in RULES
        if rule.op != "type" and not rule.cross_year and _applies(rule, layout)
        for inst in expand(rule, layout)
    ]


# ---------------------------------------------------------------------------------------------
# Evaluation


def _number(cell: Cell) -> Number | None:
    val = cell.value
    if isinstance(val, bool) or val is None:
        return None
    if isinstance(val, Decimal) and not val.is_finite():
        return None
    return val


def _out(x: Number | None) -> int | str | None:
    return str(x) if isinstance(x, Decimal) else x


def _evaluate_instance(inst: Instance, cells: Mapping[str, Cell]) -> list[CheckResult]:
    keys = list(inst.keys)
    strict: dict[str, Number] = {}
    lenient: dict[str, Number] = {}
    can_lenient = True
    for key in keys:
        cell = cells.get(key)
        num = _number(cell) if cell is not None and cell.status == "reported" else None
        if num is not None:
            strict[key] = lenient[key] = num
        elif cell is not None and cell.status in LENIENT_STATUSES:
            lenient[key] = 0
        else:
            can_lenient = False
    base = {"id": inst.id, "args": inst.arg_dict, "severity": inst.severity, "operands": keys}
    if len(strict) == len(keys):
        lhs, rhs = inst.sides(strict)
        ok = inst.holds(strict)
        anomaly = (
            not ok
            and inst.severity == "error"
            and not inst.cross_year
            and not any("reconstructed" in cells[k].flags for k in keys)
        )
        return [
            CheckResult(**base, status="pass" if ok else "fail", lhs=_out(lhs), rhs=_out(rhs), source_anomaly=anomaly)
        ]
    results = [CheckResult(**base, status="skipped")]
    if can_lenient:
        lhs, rhs = inst.sides(lenient)
        results.append(
            CheckResult(
                **base, status="pass" if inst.holds(lenient) else "fail", lenient=True, lhs=_out(lhs), rhs=_out(rhs)
            )
        )
    return results


def _type_ok(value: Number | None, expect: CellKind) -> bool:
    if value is None:
        return False
    if expect == "money":
        return value >= 0
    return isinstance(value, int) and (expect == "signed" or value >= 0)


def _evaluate_type(rule: Rule, layout: Layout, cells: Mapping[str, Cell]) -> CheckResult:
    assert rule.expect is not None
    checked = [k for inst in expand(rule, layout) for k in inst.keys if k in cells and cells[k].status == "reported"]
    bad = [k for k in checked if not _type_ok(_number(cells[k]), rule.expect)]
    if not checked:
        return CheckResult(id=rule.id, severity=rule.severity, status="skipped")
    if not bad:
        return CheckResult(id=rule.id, severity=rule.severity, status="pass", detail=f"{len(checked)} cells")
    return CheckResult(
        id=rule.id,
        severity=rule.severity,
        status="fail",
        operands=bad,
        source_anomaly=rule.severity == "error" and not any("reconstructed" in cells[k].flags for k in bad),
        detail="; ".join(f"{k}={cells[k].value!s} (raw {cells[k].raw!r}), expected {rule.expect}" for k in bad),
    )


def evaluate(cells: Mapping[str, Cell], layout: Layout) -> list[CheckResult]:
    """All in-table checks of §5.1–5.4, in rule-table order; blanks/dashes add a lenient duplicate."""
    results: list[CheckResult] = []
    for rule in RULES:
        if rule.cross_year or not _applies(rule, layout):
            continue
        if rule.op == "type":
            results.append(_evaluate_type(rule, layout, cells))
        else:
            for inst in expand(rule, layout):
                results.extend(_evaluate_instance(inst, cells))
    return results


def evaluate_cross_year(
    prev_cells: Mapping[str, Cell],
    prev_layout: Layout,
    cur_cells: Mapping[str, Cell],
    cur_layout: Layout,
) -> list[CheckResult]:
    """§5.5 checks between consecutive reports of one agency (the caller decides the scope matches)."""
    merged = {f"prev:{k}": c for k, c in prev_cells.items()} | {f"cur:{k}": c for k, c in cur_cells.items()}
    results: list[CheckResult] = []
    for rule in RULES:
        if rule.cross_year and _applies(rule, prev_layout, cur_layout):
            for inst in expand(rule, cur_layout):
                results.extend(_evaluate_instance(inst, merged))
    return results


def failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Strict failures only: a lenient failure is a reading of blanks, not evidence of an error."""
    return [r for r in results if r.status == "fail" and not r.lenient]


# ---------------------------------------------------------------------------------------------
# Narrative-vs-table checks (§5.6)


@dataclass(frozen=True)
class NarrativeRule:
    """Which table sums a narrative claim may equal; the first reading that matches is recorded."""

    kind: str
    id: str
    readings: tuple[tuple[str, tuple[Term, ...]], ...]
    versions: frozenset[Version] = BOTH
    args: tuple[tuple[str, str], ...] = ()


def _one(name: str, *keys: str) -> tuple[str, tuple[Term, ...]]:
    return name, tuple(v(k) for k in keys)


def _outcome(group: str) -> NarrativeRule:
    return NarrativeRule(
        f"outcome:{group}",
        "N.outcome",
        (("sum", (total(_A + ".{r}.total", "r", "group_rows"),)),),
        args=(("group", group),),
    )


NARRATIVE_RULES: tuple[NarrativeRule, ...] = (
    # Both readings of "收到…N件" occur in real reports ([S-PT2022]: 75 = 74 new + 1 carried).
    NarrativeRule(
        "applications_received",
        "N.received",
        (
            _one("new", _A + ".new_received.total"),
            _one("new+carried", _A + ".new_received.total", _A + ".carried_over.total"),
        ),
    ),
    NarrativeRule("applications_closed", "N.closed", (_one("outcome_total", _A + ".outcome_total.total"),)),
    NarrativeRule("carried_forward", "N.carried_forward", (_one("carried_forward", _A + ".carried_forward.total"),)),
    NarrativeRule("carried_in", "N.carried_in", (_one("carried_over", _A + ".carried_over.total"),)),
    NarrativeRule("review_cases", "N.review", (_one("review", _RL + ".review.total"),)),
    NarrativeRule(
        "litigation_cases",
        "N.litigation",
        (_one("litigation_total", _RL + ".litigation_direct.total", _RL + ".litigation_after_review.total"),),
    ),
    NarrativeRule(
        "docs_valid",
        "N.docs",
        (_one("currently_valid", _AD + ".art20_1.normative_documents.currently_valid"),),
        versions=V2021,
    ),
    NarrativeRule(
        "docs_issued", "N.docs", (_one("issued", _AD + ".art20_1.normative_documents.issued"),), versions=V2021
    ),
    NarrativeRule("outcome:disclosed", "N.outcome", (_one("disclosed", _A + ".disclosed.total"),)),
    NarrativeRule(
        "outcome:partially_disclosed", "N.outcome", (_one("partially_disclosed", _A + ".partially_disclosed.total"),)
    ),
    NarrativeRule(
        "outcome:disclosed+partially_disclosed",
        "N.outcome",
        (_one("sum", _A + ".disclosed.total", _A + ".partially_disclosed.total"),),
    ),
    _outcome("withheld"),
    _outcome("unable"),
    _outcome("not_processed"),
    _outcome("other_processing"),
)
_NARRATIVE_BY_KIND: dict[str, NarrativeRule] = {r.kind: r for r in NARRATIVE_RULES}


def _readings(
    rule: NarrativeRule,
    cells: Mapping[str, Cell],
    layout: Layout,
) -> list[tuple[str, list[str], Number | None]]:
    """(reading name, keys, table sum or None when some operand is not a reported number)."""
    out: list[tuple[str, list[str], Number | None]] = []
    for name, terms in rule.readings:
        expanded = _expand_terms(terms, layout, dict(rule.args))
        nums = [(c, _number(cells[k]) if k in cells and cells[k].status == "reported" else None) for c, k in expanded]
        value: Number | None = None
        if all(n is not None for _, n in nums):
            value = sum((c * n for c, n in nums if n is not None), 0)
        out.append((name, [k for _, k in expanded], value))
    return out


def evaluate_narrative(
    facts: Sequence[NarrativeFact],
    cells: Mapping[str, Cell],
    layout: Layout,
) -> list[NarrativeFact]:
    """Copies of `facts` with check/status/compared_with/matched filled (facts of other kinds unchanged)."""
    out: list[NarrativeFact] = []
    for fact in facts:
        rule = _NARRATIVE_BY_KIND.get(fact.kind)
        if rule is None:
            out.append(fact.model_copy())
            continue
        if layout.version not in rule.versions:
            out.append(
                fact.model_copy(update={"check": rule.id, "status": "skipped", "compared_with": [], "matched": None})
            )
            continue
        readings = _readings(rule, cells, layout)
        compared = list(dict.fromkeys(k for _, keys, _ in readings for k in keys))
        matched = next((name for name, _, val in readings if val is not None and val == fact.value), None)
        computable = any(val is not None for _, _, val in readings)
        status = "skipped" if fact.value is None or not computable else "pass" if matched is not None else "fail"
        out.append(
            fact.model_copy(update={"check": rule.id, "status": status, "compared_with": compared, "matched": matched})
        )
    return out


def narrative_checks(
    facts: Sequence[NarrativeFact],
    cells: Mapping[str, Cell] | None = None,
    layout: Layout | None = None,
) -> list[CheckResult]:
    """CheckResults of already-judged facts; with `cells` and `layout` the table side (rhs) is filled too."""
    results: list[CheckResult] = []
    for fact in facts:
        if fact.check is None or fact.status is None:
            continue
        rhs: Number | None = None
        detail = fact.text
        rule = _NARRATIVE_BY_KIND.get(fact.kind)
        if cells is not None and layout is not None and rule is not None and layout.version in rule.versions:
            readings = _readings(rule, cells, layout)
            pick = next((r for r in readings if r[0] == fact.matched), None) or next(
                (r for r in readings if r[2] is not None), None
            )
            rhs = pick[2] if pick else None
            detail += " | " + ", ".join(f"{name}={val if val is not None else '?'}" for name, _, val in readings)
        args = {"kind": fact.kind, "at": str(fact.prov.start)} | ({"matched": fact.matched} if fact.matched else {})
        results.append(
            CheckResult(
                id=fact.check,
                args=args,
                severity="warning",
                status=fact.status,
                lhs=fact.value,
                rhs=_out(rhs),
                operands=list(fact.compared_with),
                detail=detail,
            )
        )
    return results


# ---------------------------------------------------------------------------------------------
# Plausibility (§5.2 T2.rule_power): arithmetic-clean values that the issuing body cannot have.

# Only the State Council's departments and the governments of provinces and districted cities make
# 规章 (立法法 art. 91, 93); a county, district, town or a government department does not.
_RULE_POWER = re.compile(
    r"(?:省|自治区|市)人民政府$|^国务院|^(?:中华人民共和国)?[^省市县区镇乡]{1,12}(?:部|委员会|总局|署|银行)$"
)
_NO_RULE_POWER = re.compile(r"[县区镇乡]人民政府$|街道|办事处|[局委办厅]$|系统$")


def rule_power(cells: Mapping[str, Cell], layout: Layout, agency: str | None) -> CheckResult:
    """T2.rule_power (info): non-zero 规章 counts from a body the name says has no rule-making power."""
    keys = [s.key for s in cell_specs(layout) if s.key.startswith(_AD + ".art20_1.regulations.")]
    nonzero = [k for k in keys if k in cells and cells[k].status == "reported" and cells[k].value not in (0, None)]
    base = {"id": "T2.rule_power", "severity": "info", "args": {"agency": agency or ""}}
    if agency is None or _RULE_POWER.search(agency) or not _NO_RULE_POWER.search(agency):
        return CheckResult(**base, status="skipped", operands=keys, detail="agency unknown or may make 规章")
    if not nonzero:
        return CheckResult(**base, status="pass", operands=keys)
    return CheckResult(
        **base,
        status="fail",
        operands=nonzero,
        detail=f"{agency} reports 规章 counts but has no rule-making power (D31)",
    )


def narrative_balance(facts: Sequence[NarrativeFact]) -> CheckResult | None:
    """N.balance_text: when the prose states received R, carried-in K, closed D and carried-out F once
    each, R + K = D + F must hold within the prose itself (docs/spec.md §5.6)."""
    kinds = ("applications_received", "carried_in", "applications_closed", "carried_forward")
    found = {k: [f for f in facts if f.kind == k and f.value is not None] for k in kinds}
    if any(len(v) != 1 for v in found.values()):
        return None
    r, k, d, f = (found[x][0].value or 0 for x in kinds)
    return CheckResult(
        id="N.balance_text",
        severity="warning",
        status="pass" if r + k == d + f else "fail",
        lhs=r + k,
        rhs=d + f,
        args={"at": str(found["applications_received"][0].prov.start)},
        detail=f"received {r} + carried in {k} vs closed {d} + carried forward {f}",
    )
