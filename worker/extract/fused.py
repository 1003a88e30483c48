"""Splitting digit runs whose cell boundaries were lost (deviation D22).

"3960181" may be 396|0|181 or 39|60|181 or … : text alone cannot tell. We enumerate every split that
respects number syntax (no leading zeros, decimals only in money cells) and keep only those the
template's identities admit. A split is accepted only when exactly one survives; otherwise the cells
are refused. Spaces inside a run are not trusted as boundaries ("200 000121" is 20|0|0|0|0|1|21).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal

from gouji.schemas.template import CellKind

Value = int | Decimal
_MAX_DIGITS = 12  # no count in these tables comes near a trillion
_MONEY = re.compile(r"^\d+(?:\.\d+)?$")


def _parts(s: str, n: int, kinds: Sequence[CellKind]) -> Iterator[tuple[str, ...]]:
    if n == 0:
        if not s:
            yield ()
        return
    if len(s) < n:
        return
    last = len(s) - (n - 1)
    for i in range(1, min(last, _MAX_DIGITS + (4 if kinds[0] == "money" else 0)) + 1):
        head = s[:i]
        if not _valid(head, kinds[0]):
            continue
        for rest in _parts(s[i:], n - 1, kinds[1:]):
            yield (head, *rest)


def _valid(part: str, kind: CellKind) -> bool:
    """Number syntax of one cell: no leading zeros, a sign only at the start of a signed cell (D20)."""
    if part[:1] in "+-":
        if kind != "signed":
            return False
        part = part[1:]
    if not part or "-" in part or "+" in part:
        return False
    if kind == "money":
        if not _MONEY.match(part):
            return False
        whole = part.split(".")[0]
        return whole == "0" or not whole.startswith("0")
    if "." in part:
        return False
    return part == "0" or not part.startswith("0")


def _value(part: str, kind: CellKind) -> Value:
    return Decimal(part) if kind == "money" else int(part)


def compact_run(text: str) -> str:
    """A run as the solver sees it: digits, decimal points and signs (spaces are not boundaries)."""
    return "".join(ch for ch in text.replace("－", "-") if ch.isdigit() or ch in ".-+")


def splits(run: str, kinds: Sequence[CellKind]) -> list[tuple[Value, ...]]:
    """Every syntactically valid split of `run` into len(kinds) numbers (bounded)."""
    out = []
    for parts in _parts(compact_run(run), len(kinds), kinds):
        out.append(tuple(_value(p, k) for p, k in zip(parts, kinds, strict=True)))
        if len(out) > 5000:
            break
    return out


def row_splits(run: str, width: int, adds_up: Callable[[tuple[int, ...]], bool]) -> list[tuple[int, ...]]:
    """Splits of a table row's run into `width` counts for which `adds_up` holds (e.g. T3.row_total)."""
    s = compact_run(run)
    out: list[tuple[int, ...]] = []

    def rec(pos: int, acc: tuple[int, ...]) -> None:
        if len(acc) == width - 1:
            rest = s[pos:]
            if rest and (rest == "0" or rest[0] != "0") and len(rest) <= _MAX_DIGITS:
                full = (*acc, int(rest))
                if adds_up(full):
                    out.append(full)
            return
        remaining = width - 1 - len(acc)
        for i in range(pos + 1, min(len(s) - remaining, pos + _MAX_DIGITS) + 1):
            part = s[pos:i]
            if part != "0" and part.startswith("0"):
                break
            rec(i, (*acc, int(part)))

    if s.isdigit():
        rec(0, ())
    return out


def group_total_splits(run: str, groups: int, leaves: int = 4) -> list[tuple[int, ...]]:
    """Splits of a table-四 run: `groups` times (`leaves` numbers, then their sum) — T4.total."""
    s = compact_run(run)
    out: list[tuple[int, ...]] = []

    def rec(pos: int, acc: tuple[int, ...], in_group: int) -> None:
        if len(acc) == groups * (leaves + 1):
            if pos == len(s):
                out.append(acc)
            return
        if in_group == leaves:
            total = str(sum(acc[-leaves:]))
            if s.startswith(total, pos):
                rec(pos + len(total), (*acc, int(total)), 0)
            return
        for i in range(pos + 1, min(len(s), pos + _MAX_DIGITS) + 1):
            part = s[pos:i]
            if part != "0" and part.startswith("0"):
                break
            rec(i, (*acc, int(part)), in_group + 1)

    if s.isdigit():
        rec(0, (), 0)
    return out


def solve_jointly(
    candidates: Sequence[Sequence[tuple[int, ...]]],
    check: Callable[[Sequence[tuple[int, ...]]], bool],
    limit: int = 200_000,
) -> list[list[tuple[int, ...]]]:
    """All combinations (one candidate per row) that satisfy `check`, or [] when the search is too big.

    Rows with a single candidate are fixed; only the ambiguous ones are enumerated.
    """
    total = 1
    for c in candidates:
        total *= max(len(c), 1)
        if total > limit:
            return []
    if any(not c for c in candidates):
        return []
    solutions: list[list[tuple[int, ...]]] = []

    def rec(i: int, acc: list[tuple[int, ...]]) -> None:
        if i == len(candidates):
            if check(acc):
                solutions.append(list(acc))
            return
        for cand in candidates[i]:
            acc.append(cand)
            rec(i + 1, acc)
            acc.pop()

    rec(0, [])
    return solutions
