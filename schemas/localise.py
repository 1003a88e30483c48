"""Which cell is wrong, and what might it have been? Localisation and fix proposals (pure).

Table 三 is over-determined: every cell sits in a row total and a column identity (outcome total or
balance), so one wrong number breaks a pattern of identities that crosses at exactly that cell. We
solve the identities for the candidate cells (they are linear) instead of guessing values, and then
describe how the published number could have arisen from the solved one (dropped digit, fused
cells, …), because a reviewer trusts a fix that comes with a mechanism.

Proposals are advice: nothing here changes a stored value (values are AS PUBLISHED, docs/cell-keys.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from itertools import combinations

from pydantic import BaseModel, Field

from gouji.schemas.cells import Cell
from gouji.schemas.rules import Instance, instances
from gouji.schemas.template import Layout, cell_specs

HYPOTHESES = (
    "dropped_digit",
    "extra_digit",
    "transposed_digits",
    "fused_numbers",
    "split_number",
    "column_shift",
    "sign_lost",
)
MAX_PAIR_TRIES = 5000


class Change(BaseModel):
    key: str
    current: int | str | None
    proposed: int


class FixProposal(BaseModel):
    changes: list[Change]
    repairs: list[str] = Field(default_factory=list)  # labels of identities the change makes pass
    hypotheses: list[str] = Field(default_factory=list)  # names from HYPOTHESES
    notes: list[str] = Field(default_factory=list)  # the evidence behind each hypothesis

    def apply(self, cells: Mapping[str, Cell]) -> dict[str, Cell]:
        """A patched copy, for what-if evaluation only: the stored report keeps the published values."""
        out = dict(cells)
        for ch in self.changes:
            out[ch.key] = cells[ch.key].model_copy(update={"value": ch.proposed})
        return out


def _int_values(cells: Mapping[str, Cell]) -> dict[str, int]:
    return {
        k: c.value
        for k, c in cells.items()
        if c.status == "reported" and isinstance(c.value, int) and not isinstance(c.value, bool)
    }


class _System:
    """The evaluable error identities of one report, indexed by cell, with their current residuals."""

    def __init__(self, cells: Mapping[str, Cell], layout: Layout) -> None:
        self.values = _int_values(cells)
        self.kinds = {s.key: s.column.kind for s in cell_specs(layout)}
        linear = [i for i in instances(layout) if i.severity == "error" and all(k in self.values for k in i.keys)]
        self.eqs = [i for i in linear if i.op == "eq"]
        self.ineqs = [i for i in linear if i.op != "eq"]
        self.coef = [i.coefficients() for i in self.eqs]
        self.resid = [sum(c * self.values[k] for k, c in co.items()) for co in self.coef]
        self.failing = [n for n, r in enumerate(self.resid) if r != 0]
        self.by_key: dict[str, set[int]] = {}
        for n, co in enumerate(self.coef):
            for k, c in co.items():
                if c:
                    self.by_key.setdefault(k, set()).add(n)
        self.ineq_by_key: dict[str, list[Instance]] = {}
        for inst in self.ineqs:
            for k in inst.keys:
                self.ineq_by_key.setdefault(k, []).append(inst)

    def implicated(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.failing:
            for k, c in self.coef[n].items():
                if c:
                    counts[k] = counts.get(k, 0) + 1
        return counts

    def solve(self, keys: Sequence[str]) -> dict[str, int] | None:
        """The unique integer change of `keys` zeroing every identity they touch, or None."""
        rows = sorted(set().union(*(self.by_key.get(k, set()) for k in keys)))
        matrix = [[Fraction(self.coef[n].get(k, 0)) for k in keys] + [Fraction(-self.resid[n])] for n in rows]
        deltas = _unique_solution(matrix, len(keys))
        if deltas is None or any(d == 0 or d.denominator != 1 for d in deltas):
            return None
        changes = {k: self.values[k] + int(d) for k, d in zip(keys, deltas, strict=True)}
        if any(val < 0 for k, val in changes.items() if self.kinds.get(k) != "signed"):
            return None
        return changes

    def broken_inequalities(self, changes: Mapping[str, int]) -> tuple[list[str], list[str]]:
        """(inequalities the change breaks, inequalities it repairs)."""
        new = {**self.values, **changes}
        touched = {id(i): i for k in changes for i in self.ineq_by_key.get(k, [])}.values()
        broken = [i.label for i in touched if i.holds(self.values) and not i.holds(new)]
        repaired = [i.label for i in touched if not i.holds(self.values) and i.holds(new)]
        return broken, repaired


def _unique_solution(matrix: list[list[Fraction]], n: int) -> list[Fraction] | None:
    """Gauss–Jordan on an augmented matrix; None unless consistent with exactly one solution."""
    m = [row[:] for row in matrix]
    pivot_row = 0
    for col in range(n):
        p = next((r for r in range(pivot_row, len(m)) if m[r][col] != 0), None)
        if p is None:
            return None  # a free variable: the identities do not pin this cell down
        m[pivot_row], m[p] = m[p], m[pivot_row]
        pv = m[pivot_row][col]
        m[pivot_row] = [x / pv for x in m[pivot_row]]
        for r in range(len(m)):
            if r != pivot_row and m[r][col] != 0:
                f = m[r][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[pivot_row], strict=True)]
        pivot_row += 1
    if any(row[n] != 0 for row in m[pivot_row:]):
        return None
    return [m[i][n] for i in range(n)]


def implicated(cells: Mapping[str, Cell], layout: Layout) -> dict[str, int]:
    """Cell key → number of failing (strictly evaluated) error equalities it appears in."""
    return _System(cells, layout).implicated()


def propose_fixes(
    cells: Mapping[str, Cell],
    layout: Layout,
    max_changes: int = 2,
    limit: int = 20,
) -> list[FixProposal]:
    """Smallest change sets that make every evaluated error equality hold, best first.

    Single cells are tried first and pairs only when no single cell works: a two-cell fix always
    exists in a richer space, so offering it next to a one-cell fix would only add noise.
    """
    system = _System(cells, layout)
    if not system.failing:
        return []
    counts = system.implicated()
    order = {s.key: n for n, s in enumerate(cell_specs(layout))}
    candidates = sorted((k for k in counts if k in system.values), key=lambda k: order.get(k, len(order)))
    need = set(system.failing)
    lines = _lines(cells, layout)

    def attempt(keys: tuple[str, ...]) -> FixProposal | None:
        if not need <= set().union(*(system.by_key.get(k, set()) for k in keys)):
            return None
        changes = system.solve(keys)
        if changes is None:
            return None
        broken, repaired = system.broken_inequalities(changes)
        if broken:
            return None
        hyps, notes = _hypotheses(changes, system.values, lines)
        return FixProposal(
            changes=[Change(key=k, current=system.values[k], proposed=val) for k, val in changes.items()],
            repairs=[system.eqs[n].label for n in system.failing] + repaired,
            hypotheses=hyps,
            notes=notes,
        )

    def rank(p: FixProposal) -> tuple[int, int, int]:
        return (
            -len(p.hypotheses),
            -sum(counts.get(c.key, 0) for c in p.changes),
            min(order.get(c.key, len(order)) for c in p.changes),
        )

    found = [p for k in candidates if (p := attempt((k,)))]
    if not found and max_changes >= 2:
        for tries, pair in enumerate(combinations(candidates, 2)):
            if tries >= MAX_PAIR_TRIES:
                break
            if (p := attempt(pair)) is not None:
                found.append(p)
    return sorted(found, key=rank)[:limit]


# ---------------------------------------------------------------------------------------------
# Hypotheses: how could the published value have come from the proposed one?

Line = list[str]


def _lines(cells: Mapping[str, Cell], layout: Layout) -> dict[str, list[Line]]:
    """For each cell, the printed rows/columns it sits in, in reading order.

    Table 四 is one printed row of 15 numbers (groups are adjacent, D22); table 三 also has columns,
    along which a row-shift shows. Cells the report never printed (status missing) are not neighbours.
    """
    rows: dict[tuple[str, ...], Line] = {}
    cols: dict[tuple[str, ...], Line] = {}
    for s in cell_specs(layout):
        if s.key not in cells or cells[s.key].status == "missing":
            continue
        if s.table == "review_litigation":
            rows.setdefault((s.table,), []).append(s.key)
        else:
            rows.setdefault((s.table, *s.path[:-1]), []).append(s.key)
        if s.table == "applications":
            cols.setdefault((s.table, s.path[-1]), []).append(s.key)
    out: dict[str, list[Line]] = {}
    for line in (*rows.values(), *cols.values()):
        for k in line:
            out.setdefault(k, []).append(line)
    return out


def _digit_variants(s: str) -> Iterator[tuple[str, str]]:
    """(kind, variant) strings obtainable from s by one slip of the pen or of the extractor."""
    for i in range(len(s)):
        if len(s) > 1:
            yield "dropped_digit", s[:i] + s[i + 1 :]
    for i in range(len(s) - 1):
        if s[i] != s[i + 1]:
            yield "transposed_digits", s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _cell_hypotheses(cur: int, new: int, before: int | None, after: int | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if cur != new and abs(cur) == abs(new):
        out.append(("sign_lost", f"{cur} is {new} with the sign changed"))
    if cur < 0 or new < 0:
        return out
    sc, sn = str(cur), str(new)
    for kind, variant in _digit_variants(sn):
        if int(variant) == cur:
            out.append((kind, f"{sc} from {sn}"))
    out += [
        ("extra_digit", f"{sc} is {sn} with a digit added")
        for kind, variant in _digit_variants(sc)
        if kind == "dropped_digit" and int(variant) == new
    ]
    for side, nb in (("before", before), ("after", after)):
        if nb is None or nb < 0:
            continue
        fused = str(nb) + sn if side == "before" else sn + str(nb)
        if fused == sc:
            out.append(("fused_numbers", f"{sc} = {new} fused with the neighbour {side} it ({nb})"))
        split = str(nb) + sc if side == "before" else sc + str(nb)
        if int(split) == new and split[0] != "0":
            out.append(("split_number", f"{new} was split into {sc} and the neighbour {side} it ({nb})"))
    return list(dict.fromkeys(out))


def _shift(line: Line, changes: Mapping[str, int], values: Mapping[str, int]) -> str | None:
    """Does the published line equal the proposed line moved one place (the vacated cell reads 0)?"""
    proposed = [changes.get(k, values.get(k)) for k in line]
    for step, name in ((1, "right/down"), (-1, "left/up")):
        moved = 0
        ok = True
        for p, k in enumerate(line):
            if k not in changes:
                continue
            src = p - step
            pub = values[k]
            if 0 <= src < len(line) and pub != 0 and proposed[src] == pub:
                moved += 1
            elif pub != 0:
                ok = False
                break
        if ok and moved:
            return name
    return None


def _hypotheses(
    changes: Mapping[str, int],
    values: Mapping[str, int],
    lines: Mapping[str, list[Line]],
) -> tuple[list[str], list[str]]:
    kinds: list[str] = []
    notes: list[str] = []
    seen_lines: set[tuple[str, ...]] = set()
    for key, new in changes.items():
        cur = values[key]
        row = lines.get(key, [[key]])[0]
        p = row.index(key) if key in row else 0
        # Neighbours as the extractor saw them: their own proposed value if they are changed too.
        nb = [changes.get(k, values.get(k)) for k in row]
        before = nb[p - 1] if p > 0 else None
        after = nb[p + 1] if p + 1 < len(row) else None
        for kind, note in _cell_hypotheses(cur, new, before, after):
            kinds.append(kind)
            notes.append(f"{kind}: {key}: {note}")
        for line in lines.get(key, []):
            if tuple(line) in seen_lines:
                continue
            seen_lines.add(tuple(line))
            direction = _shift(line, changes, values)
            if direction:
                kinds.append("column_shift")
                notes.append(f"column_shift: values around {key} moved one place {direction}")
    return list(dict.fromkeys(kinds)), notes
