"""Table 三 (收到和处理政府信息公开申请情况): 23 or 25 rows of seven numbers.

Three readings, tried in order, the first that fits wins:

1. *grid* — the source has table rows (HTML, markdown): each row with seven value cells is one data row,
   in template order. Loose numbers outside table rows are kept as unmapped, not guessed into cells.
2. *sequential* — exactly 7 × rows numbers in the region: they are the table in template order, whatever
   the labels do (PDF text puts labels after their numbers, or vertically). PDF text also prints some
   stretches column by column; a stretch is read column-major only where that, and not row-major,
   makes its rows add up (T3.row_total).
3. *label-anchored* — numbers between one row label and the next belong to that row; runs of fused
   digits are split by the identities, jointly over the table (D22), and accepted only when unique.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from typing import Literal

from gouji.schemas.cells import NOT_PRINTED, Span
from gouji.schemas.report import Deviation, RowLabel, TableMeta, Unmapped
from gouji.schemas.template import (
    APPLICANT_COLUMNS,
    C6,
    C7,
    LP_SUBTOTAL,
    SUB_ROWS_2021,
    T3_GROUPS,
    T3_HEADER_WORDS,
    VERSIONS,
    Layout,
    Row,
    Version,
    outcome_rows,
    table3_columns,
    table3_rows,
)
from gouji.worker.extract.common import Draft, Reading, build_cell, run_of
from gouji.worker.extract.fused import row_splits, solve_jointly
from gouji.worker.extract.labels import row_pattern, word_pattern
from gouji.worker.extract.scan import Hit, HitKind, Token, find_hits, scan_tokens
from gouji.worker.extract.values import parse_cell
from gouji.worker.read.document import NormalisedDoc

WIDTH = 7
# Printed column counts and how a row adds up: the template's seven; eight with a 法人或其他组织
# subtotal column (D12); three when the five organisation columns are collapsed into it (D11).
WIDTHS = (7, 8, 3)
Vector = list[Draft]
LP_BEFORE, LP_AFTER = "before", "after"


def _row_ok(vs: Sequence[int | None]) -> bool:
    """Does a printed row add up, whichever of the widths it has?"""
    if None in vs:
        return False
    v: list[int] = list(vs)  # type: ignore[arg-type]
    if len(v) == 7:
        return sum(v[:6]) == v[6]
    if len(v) == 8:  # the subtotal may stand before or after the five organisation columns
        return v[0] + v[1] == v[7] == sum(v[:7]) - v[1] or v[0] + v[6] == v[7] == sum(v[:7]) - v[6]
    return len(v) == 3 and v[0] + v[1] == v[2]


def patterns() -> list[tuple[str, HitKind, str]]:
    rows = {r.key: r for v in VERSIONS for r in table3_rows(v)}
    out: list[tuple[str, HitKind, str]] = [(k, "row", row_pattern(r)) for k, r in rows.items()]
    out += [(g.key, "group", "|".join(word_pattern(f) for f in g.fragments)) for g in T3_GROUPS]
    out += [(w, "header", word_pattern(w)) for w in T3_HEADER_WORDS]
    return out


def read_table3(
    doc: NormalisedDoc, start: int, end: int, version: Version
) -> tuple[Reading, Literal["single_row", "subrows"], bool]:
    hits = find_hits(doc, patterns(), start, end)
    tokens = scan_tokens(doc, start, end, hits)
    sub_keys = {r.key for r in SUB_ROWS_2021}
    variant: Literal["single_row", "subrows"] = (
        "subrows" if version == "2021" and any(h.key in sub_keys for h in hits) else "single_row"
    )
    rows = table3_rows(version, variant)
    reading = Reading(meta=TableMeta(status="missing"))
    first_hit = {h.key: h for h in reversed(hits) if h.kind == "row"}
    for key, h in first_hit.items():
        reading.labels[f"applications.{key}"] = RowLabel(
            label_raw=doc.text[h.start : h.end], label_prov=Span(start=h.start, end=h.end)
        )
    reading.headers["applications"] = [doc.text[h.start : h.end] for h in hits if h.kind == "header"]

    vectors: list[Vector] | None = None
    method = doc.cell_method
    for strategy in (_grid, _sequential):
        for width in WIDTHS:
            vectors = strategy(doc, tokens, hits, rows, reading, width)
            if vectors is not None:
                break
        if vectors is not None:
            break
    if vectors is None:
        vectors = _label_anchored(doc, tokens, hits, rows, version, variant, reading)
        method = "flattened_text" if doc.cell_method == "text_line" else doc.cell_method
    columns, lp = _columns(vectors, reading)

    if version == "2021" and variant == "single_row":
        reading.deviations.append(
            Deviation(
                code="D09",
                path="/applications/rows/other_processing",
                detail="（六）其他处理 printed as one row in a 2021-format report",
            )
        )
    collapsed = Draft.refused("missing", "organisation columns collapsed into 法人或其他组织 (D11)")
    for row, vec in zip(rows, vectors, strict=True):
        printed = dict(zip(columns, vec, strict=True))
        for col in table3_columns(Layout(version, variant, lp)):
            d = printed.get(col.key, collapsed)
            reading.cells[f"applications.{row.key}.{col.key}"] = build_cell(d, col, method, first_hit.get(row.key))
    if version == "2021" and variant == "single_row":
        for r in SUB_ROWS_2021:
            for col in table3_columns(Layout(version, variant, lp)):
                cell = build_cell(
                    Draft.refused("missing", "2021 sub-row not printed: （六） given as one row (D09)"),
                    col,
                    method,
                    None,
                )
                cell.flags.append(NOT_PRINTED)
                reading.cells[f"applications.{r.key}.{col.key}"] = cell
    blank_columns = [c for c in C6 if all(reading.cells[f"applications.{r.key}.{c}"].status == "blank" for r in rows)]
    if blank_columns:
        reading.deviations.append(
            Deviation(
                code="D10",
                path="/applications/columns_present",
                detail=(
                    f"columns printed empty in every row (columns_blank; blank, not 0): {', '.join(blank_columns)}"
                ),
            )
        )
    if tokens:
        reading.meta = TableMeta(prov=Span(start=tokens[0].start, end=tokens[-1].end), method=method)
    return reading, variant, lp


def _columns(vectors: list[Vector], reading: Reading) -> tuple[tuple[str, ...], bool]:
    """Column keys of the printed vectors, and whether a 法人或其他组织 subtotal column was printed."""
    width = len(vectors[0]) if vectors else WIDTH
    if width == WIDTH:
        return C7, False
    if width == 3:
        reading.deviations.append(
            Deviation(
                code="D11",
                path="/applications/columns_present",
                detail="three columns: 自然人, 法人或其他组织, 总计 (columns_collapsed)",
            )
        )
        return ("natural_person", LP_SUBTOTAL.key, "total"), True
    rows = [[_int(d.raw) if d.value is None else int(d.value) for d in v] for v in vectors]
    full = [[x for x in r if x is not None] for r in rows]
    full = [r for r in full if len(r) == len(vectors[0])]
    before = sum(r[1] == sum(r[2:7]) for r in full)
    after = sum(r[6] == sum(r[1:6]) for r in full)
    where = LP_BEFORE if before > after else LP_AFTER
    reading.deviations.append(
        Deviation(
            code="D12",
            path="/applications/columns_present",
            detail=f"eight columns: a 法人或其他组织 subtotal {where} the five organisation columns",
        )
    )
    if where == LP_BEFORE:
        return ("natural_person", LP_SUBTOTAL.key, *C6[1:], "total"), True
    return (*C6, LP_SUBTOTAL.key, "total"), True


# -- strategy 1: table rows ------------------------------------------------------------------------


def _grid(
    doc: NormalisedDoc, tokens: list[Token], hits: list[Hit], rows: Sequence[Row], reading: Reading, width: int
) -> list[Vector] | None:
    grid_tokens = [t for t in tokens if t.grid_row is not None]
    if not grid_tokens:
        return None
    by_row: dict[int, list[Token]] = {}
    for t in grid_tokens:
        by_row.setdefault(t.grid_row or 0, []).append(t)
    vectors: list[Vector] = []
    for _, toks in sorted(by_row.items()):
        while len(toks) > width and toks[-1].kind == "empty":
            toks = toks[:-1]
        while len(toks) > width and toks[0].kind == "empty":
            toks = toks[1:]
        if all(t.kind == "empty" for t in toks):
            continue
        if len(toks) != width:
            return None
        vectors.append([_empty_draft(t, doc) for t in toks])
    if len(vectors) != len(rows):
        return None
    for t in tokens:
        if t.grid_row is None and t.kind == "num":
            reading.unmapped.append(Unmapped(kind="loose_number", raw=t.text, prov=Span(start=t.start, end=t.end)))
    return vectors


def _empty_draft(t: Token, doc: NormalisedDoc) -> Draft:
    if t.kind == "empty" and doc.media_type == "text/markdown":
        # A converter's empty markdown cell is a cell it lost, not a blank the agency printed.
        return Draft.refused(
            "missing", "empty cell in converted markdown (content lost in conversion)", "", t.start, t.end
        )
    return Draft.of(t)


# -- strategy 2: the numbers in template order -----------------------------------------------------


def _sequential(
    doc: NormalisedDoc, tokens: list[Token], hits: list[Hit], rows: Sequence[Row], reading: Reading, width: int
) -> list[Vector] | None:
    vals = [t for t in tokens if t.kind != "empty"]
    n = len(rows)
    if len(vals) != width * n:
        return None
    hit_starts = [h.start for h in hits]
    runs = [bisect.bisect_right(hit_starts, t.start) for t in vals]
    ints = [_int(t.text) for t in vals]

    # best[i] = (rows adding up, -column-major blocks, plan) for the first i rows
    best: list[tuple[int, int, list[tuple[int, int]]] | None] = [None] * (n + 1)
    best[0] = (0, 0, [])
    for i in range(n):
        cur = best[i]
        if cur is None:
            continue
        ok = _row_ok(ints[width * i : width * (i + 1)])
        _relax(best, i + 1, (cur[0] + ok, cur[1], [*cur[2], (i, 1)]))
        for m in range(2, n - i + 1):
            a, b = width * i, width * (i + m)
            if runs[a] != runs[b - 1]:
                break
            block = ints[a:b]
            score = sum(_row_ok([block[c * m + r] for c in range(width)]) for r in range(m))
            plain = sum(_row_ok(block[width * r : width * (r + 1)]) for r in range(m))
            if score > plain:
                _relax(best, i + m, (cur[0] + score, cur[1] - 1, [*cur[2], (i, m)]))
    plan = best[n]
    assert plan is not None
    vectors: list[Vector] = []
    for i, m in plan[2]:
        a = width * i
        if m == 1:
            vectors.append([Draft.of(t) for t in vals[a : a + width]])
            continue
        for r in range(m):
            vectors.append(
                [
                    Draft(
                        vals[a + c * m + r].text,
                        vals[a + c * m + r].start,
                        vals[a + c * m + r].end,
                        vals[a + c * m + r].dom,
                        flags=("column_major",),
                    )
                    for c in range(width)
                ]
            )
        reading.deviations.append(
            Deviation(
                code="D03",
                path=f"/applications/rows/{rows[i].key}",
                detail=f"{m} rows from {rows[i].key} to {rows[i + m - 1].key} printed column by column; read column-major "
                "because only that makes each row add up",
            )
        )
    return vectors


def _relax(
    best: list[tuple[int, int, list[tuple[int, int]]] | None], j: int, cand: tuple[int, int, list[tuple[int, int]]]
) -> None:
    old = best[j]
    if old is None or (cand[0], cand[1]) > (old[0], old[1]):
        best[j] = cand


def _int(text: str) -> int | None:
    p = parse_cell(text, APPLICANT_COLUMNS[0])
    return p.value if p.status == "reported" and isinstance(p.value, int) else None


# -- strategy 3: label-anchored, with fused runs split by the identities --------------------------


def _label_anchored(
    doc: NormalisedDoc,
    tokens: list[Token],
    hits: list[Hit],
    rows: Sequence[Row],
    version: Version,
    variant: Literal["single_row", "subrows"],
    reading: Reading,
) -> list[Vector]:
    """Each row from the numbers after its label; fused digit runs split jointly by the column identities
    (T3.row_total, outcome_total, balance) and accepted only when exactly one split survives."""
    row_hits = _monotone_hits(hits, rows)
    segs = [_segment(h, hits, tokens) for h in row_hits]
    fused = [bool(seg) and all(t.kind == "num" and t.text.strip().isdigit() for t in seg or ()) for seg in segs]
    width, candidates, why_none = _column_count(doc, segs, fused, len(rows))
    fixed: list[Vector | None] = []
    runs: list[Draft | None] = []
    for i, row in enumerate(rows):
        vec, run = _row_as_printed(doc, row, row_hits[i], segs[i], fused[i], width, why_none)
        fixed.append(vec)
        runs.append(run)
    ambiguous = [i for i in range(len(rows)) if fixed[i] is None]
    solution = _solve(rows, version, variant, fixed, candidates, ambiguous, width)
    vectors: list[Vector] = []
    for i in range(len(rows)):
        vec, run = fixed[i], runs[i]
        if vec is None:
            assert run is not None
            vec = _split_run(
                run, solution.get(i), len(candidates[i]), width, f"/applications/rows/{rows[i].key}", reading
            )
        vectors.append(vec)
    return vectors


def _segment(h: Hit | None, hits: list[Hit], tokens: list[Token]) -> list[Token] | None:
    """The non-empty tokens after row label `h` up to the next label; None when the label was not found."""
    if h is None:
        return None
    nxt = next((x.start for x in hits if x.start >= h.end), None)
    return [t for t in tokens if t.start >= h.end and (nxt is None or t.start < nxt) and t.kind != "empty"]


def _column_count(
    doc: NormalisedDoc, segs: list[list[Token] | None], fused: list[bool], n_rows: int
) -> tuple[int, list[list[tuple[int, ...]]], str | None]:
    """Which column count fits every row: a row printed as separate numbers shows its width; a fused run
    must have at least one split that adds up at that width. Gives (width, each row's candidate splits,
    why no single width fits or None); more than one fitting width is a refusal, never a choice."""
    options: dict[int, list[list[tuple[int, ...]]]] = {}
    for width in WIDTHS:
        cands = [
            row_splits(run_of(seg, doc.text).raw, width, _row_ok) if seg and f and len(seg) != width else []
            for seg, f in zip(segs, fused, strict=True)
        ]
        if all(not seg or len(seg) == width or c for seg, c in zip(segs, cands, strict=True)):
            options[width] = cands
    width = next(iter(options)) if len(options) == 1 else WIDTH
    candidates = options.get(width) or [[] for _ in range(n_rows)]
    if len(options) == 1:
        return width, candidates, None
    return (
        width,
        candidates,
        f"the rows fit {sorted(options)} columns alike" if options else "no column count fits every row",
    )


def _row_as_printed(
    doc: NormalisedDoc,
    row: Row,
    h: Hit | None,
    seg: list[Token] | None,
    fused: bool,
    width: int,
    why_none: str | None,
) -> tuple[Vector | None, Draft | None]:
    """(the row's cells, None) when its numbers decide them or it is refused; (None, the fused run) when
    the run is left for the joint split."""
    if h is None or seg is None:
        return [Draft.refused("missing", f"row label for {row.key} not found")] * width, None
    if len(seg) == width:
        return [Draft.of(t) for t in seg], None
    if not seg:
        return [Draft.refused("missing", "no numbers after the row label", "", h.end, h.end)] * width, None
    run = run_of(seg, doc.text)
    if fused and why_none is None:
        return None, run
    reason = f"{len(seg)} values where {width} belong" + (f"; {why_none}" if why_none else "")
    return [Draft.refused("unparseable", reason, run.raw, run.start, run.end)] * width, None


def _split_run(
    run: Draft, chosen: tuple[int, ...] | None, n_candidates: int, width: int, path: str, reading: Reading
) -> Vector:
    """A fused run's cells: the split the identities chose (D22 recorded), or its refusal saying why."""
    if chosen is None:
        reason = (
            f"fused digits {run.raw!r}: no split adds up (T3.row_total)"
            if n_candidates == 0
            else f"fused digits {run.raw!r}: {n_candidates} splits satisfy the identities; refusing to choose"
        )
        return [Draft.refused("unparseable", reason, run.raw, run.start, run.end, ambiguous=n_candidates > 1)] * width
    multi = len(run.raw.split()) != width
    if multi:
        reading.deviations.append(
            Deviation(code="D22", path=path, detail=f"fused run {run.raw!r} split as {list(chosen)}")
        )
    return [dataclasses.replace(run, value=v, flags=("reconstructed",) if multi else ()) for v in chosen]


def _monotone_hits(hits: list[Hit], rows: Sequence[Row]) -> list[Hit | None]:
    out: list[Hit | None] = []
    pos = -1
    for row in rows:
        h = next((x for x in hits if x.key == row.key and x.start > pos), None)
        out.append(h)
        if h is not None:
            pos = h.start
    return out


def _solve(
    rows: Sequence[Row],
    version: Version,
    variant: Literal["single_row", "subrows"],
    fixed: list[Vector | None],
    candidates: list[list[tuple[int, ...]]],
    ambiguous: list[int],
    width: int,
) -> dict[int, tuple[int, ...]]:
    """Choose one candidate per fused row so that every column identity holds; unique or nothing."""
    if not ambiguous:
        return {}
    index = {r.key: i for i, r in enumerate(rows)}
    known: dict[int, list[int | None]] = {}
    for i, vec in enumerate(fixed):
        if vec is not None:
            known[i] = [(_int(d.raw) if d.status is None else None) for d in vec]
    out_rows = [index[k] for k in outcome_rows(version, variant) if k in index]
    nr, co, ot, cf = (index[k] for k in ("new_received", "carried_over", "outcome_total", "carried_forward"))

    def check(choice: Sequence[tuple[int, ...]]) -> bool:
        vals = dict(known)
        for i, c in zip(ambiguous, choice, strict=True):
            vals[i] = list(c)
        for col in range(width):
            outs = [vals[i][col] for i in out_rows]
            tot = vals[ot][col]
            if None not in outs and tot is not None and sum(outs) != tot:  # type: ignore[arg-type]
                return False
            quad = [vals[nr][col], vals[co][col], tot, vals[cf][col]]
            if None not in quad and quad[0] + quad[1] != quad[2] + quad[3]:  # type: ignore[operator]
                return False
        return True

    cands = [candidates[i] for i in ambiguous]
    sols = solve_jointly(cands, check)
    if len(sols) == 1:
        return dict(zip(ambiguous, sols[0], strict=True))
    # No unique joint answer: keep what every surviving answer agrees on (or, when the source itself
    # breaks a column identity, the rows that have a single split of their own).
    chosen: dict[int, tuple[int, ...]] = {}
    for j, i in enumerate(ambiguous):
        options = {s[j] for s in sols} if sols else set(candidates[i])
        if len(options) == 1:
            chosen[i] = options.pop()
    return chosen
