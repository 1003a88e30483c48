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
from collections.abc import Sequence
from typing import Literal

from schemas.report import Deviation, RowLabel, TableMeta, Unmapped
from schemas.template import (
    APPLICANT_COLUMNS,
    SUB_ROWS_2021,
    T3_GROUPS,
    T3_HEADER_WORDS,
    VERSIONS,
    Row,
    Version,
    outcome_rows,
    table3_rows,
)
from worker.extract.common import NOT_PRINTED, Draft, Reading, build_cell, run_of
from worker.extract.fused import row_total_splits, solve_jointly
from worker.extract.labels import row_pattern, word_pattern
from worker.extract.scan import Hit, HitKind, Token, find_hits, scan_tokens
from worker.extract.values import parse_cell
from worker.normalise.document import NormalisedDoc

WIDTH = 7
Vector = list[Draft]


def patterns() -> list[tuple[str, HitKind, str]]:
    rows = {r.key: r for v in VERSIONS for r in table3_rows(v)}
    out: list[tuple[str, HitKind, str]] = [(k, "row", row_pattern(r)) for k, r in rows.items()]
    out += [(g.key, "group", "|".join(word_pattern(f) for f in g.fragments)) for g in T3_GROUPS]
    out += [(w, "header", word_pattern(w)) for w in T3_HEADER_WORDS]
    return out


def read_table3(
    doc: NormalisedDoc, start: int, end: int, version: Version
) -> tuple[Reading, Literal["single_row", "subrows"]]:
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
        reading.labels[f"applications.{key}"] = RowLabel(label_raw=doc.text[h.start : h.end], label_prov=_span(h))
    reading.header_raw = [doc.text[h.start : h.end] for h in hits if h.kind == "header"]

    vectors: list[Vector] | None = None
    method = doc.cell_method
    for strategy in (_grid, _sequential):
        vectors = strategy(doc, tokens, hits, rows, reading)
        if vectors is not None:
            break
    if vectors is None:
        vectors = _label_anchored(doc, tokens, hits, rows, version, variant, reading)
        method = "flattened_text" if doc.cell_method == "text_line" else doc.cell_method

    if version == "2021" and variant == "single_row":
        reading.deviations.append(
            Deviation(
                code="D09",
                path="/applications/rows/other_processing",
                detail="（六）其他处理 printed as one row in a 2021-format report",
            )
        )
    for row, vec in zip(rows, vectors, strict=True):
        for col, d in zip(APPLICANT_COLUMNS, vec, strict=True):
            reading.cells[f"applications.{row.key}.{col.key}"] = build_cell(d, col, method, first_hit.get(row.key))
    if version == "2021" and variant == "single_row":
        for r in SUB_ROWS_2021:
            for col in APPLICANT_COLUMNS:
                cell = build_cell(
                    Draft.refused("missing", "2021 sub-row not printed: （六） given as one row (D09)"),
                    col,
                    method,
                    None,
                )
                cell.flags.append(NOT_PRINTED)
                reading.cells[f"applications.{r.key}.{col.key}"] = cell
    if tokens:
        reading.meta = TableMeta(prov=_span_of(tokens[0].start, tokens[-1].end), method=method)
    return reading, variant


def _span(h: Hit):  # type: ignore[no-untyped-def]
    from schemas.cells import Span

    return Span(start=h.start, end=h.end)


def _span_of(a: int, b: int):  # type: ignore[no-untyped-def]
    from schemas.cells import Span

    return Span(start=a, end=b)


# -- strategy 1: table rows ------------------------------------------------------------------------


def _grid(
    doc: NormalisedDoc, tokens: list[Token], hits: list[Hit], rows: Sequence[Row], reading: Reading
) -> list[Vector] | None:
    grid_tokens = [t for t in tokens if t.grid_row is not None]
    if not grid_tokens:
        return None
    by_row: dict[int, list[Token]] = {}
    for t in grid_tokens:
        by_row.setdefault(t.grid_row, []).append(t)  # type: ignore[arg-type]
    vectors: list[Vector] = []
    for _, toks in sorted(by_row.items()):
        while len(toks) > WIDTH and toks[-1].kind == "empty":
            toks = toks[:-1]
        while len(toks) > WIDTH and toks[0].kind == "empty":
            toks = toks[1:]
        if all(t.kind == "empty" for t in toks):
            continue
        if len(toks) != WIDTH:
            return None
        vectors.append([_empty_draft(t, doc) for t in toks])
    if len(vectors) != len(rows):
        return None
    for t in tokens:
        if t.grid_row is None and t.kind == "num":
            reading.unmapped.append(Unmapped(kind="loose_number", raw=t.text, prov=_span_of(t.start, t.end)))
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
    doc: NormalisedDoc, tokens: list[Token], hits: list[Hit], rows: Sequence[Row], reading: Reading
) -> list[Vector] | None:
    vals = [t for t in tokens if t.kind != "empty"]
    n = len(rows)
    if len(vals) != WIDTH * n:
        return None
    hit_starts = [h.start for h in hits]
    runs = [bisect.bisect_right(hit_starts, t.start) for t in vals]
    ints = [_int(t.text) for t in vals]

    def row_ok(vs: Sequence[int | None]) -> bool:
        return None not in vs and sum(vs[:6]) == vs[6]  # type: ignore[arg-type]

    # best[i] = (rows adding up, -column-major blocks, plan) for the first i rows
    best: list[tuple[int, int, list[tuple[int, int]]] | None] = [None] * (n + 1)
    best[0] = (0, 0, [])
    for i in range(n):
        cur = best[i]
        if cur is None:
            continue
        ok = row_ok(ints[WIDTH * i : WIDTH * (i + 1)])
        _relax(best, i + 1, (cur[0] + ok, cur[1], [*cur[2], (i, 1)]))
        for m in range(2, n - i + 1):
            a, b = WIDTH * i, WIDTH * (i + m)
            if runs[a] != runs[b - 1]:
                break
            block = ints[a:b]
            score = sum(row_ok([block[c * m + r] for c in range(WIDTH)]) for r in range(m))
            plain = sum(row_ok(block[WIDTH * r : WIDTH * (r + 1)]) for r in range(m))
            if score > plain:
                _relax(best, i + m, (cur[0] + score, cur[1] - 1, [*cur[2], (i, m)]))
    plan = best[n]
    assert plan is not None
    vectors: list[Vector] = []
    for i, m in plan[2]:
        a = WIDTH * i
        if m == 1:
            vectors.append([Draft.of(t) for t in vals[a : a + WIDTH]])
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
                    for c in range(WIDTH)
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
    row_hits = _monotone_hits(hits, rows)
    candidates: list[list[tuple[int, ...]]] = []
    fixed: list[Vector | None] = []
    runs: list[Draft | None] = []
    for i, row in enumerate(rows):
        h = row_hits[i]
        if h is None:
            fixed.append([Draft.refused("missing", f"row label for {row.key} not found")] * WIDTH)
            candidates.append([])
            runs.append(None)
            continue
        nxt = next((x.start for x in hits if x.start >= h.end), None)
        seg = [t for t in tokens if t.start >= h.end and (nxt is None or t.start < nxt) and t.kind != "empty"]
        if len(seg) == WIDTH:
            fixed.append([Draft.of(t) for t in seg])
            candidates.append([])
            runs.append(None)
        elif not seg:
            fixed.append([Draft.refused("missing", "no numbers after the row label", "", h.end, h.end)] * WIDTH)
            candidates.append([])
            runs.append(None)
        elif all(t.kind == "num" and t.text.strip().isdigit() for t in seg):
            run = run_of(seg, doc.text)
            fixed.append(None)
            candidates.append(row_total_splits(run.raw, WIDTH))
            runs.append(run)
        else:
            raw = run_of(seg, doc.text)
            fixed.append(
                [Draft.refused("unparseable", f"{len(seg)} values where {WIDTH} belong", raw.raw, raw.start, raw.end)]
                * WIDTH
            )
            candidates.append([])
            runs.append(None)

    ambiguous = [i for i in range(len(rows)) if fixed[i] is None]
    solution = _solve(rows, version, variant, fixed, candidates, ambiguous)
    vectors: list[Vector] = []
    for i in range(len(rows)):
        vec = fixed[i]
        if vec is not None:
            vectors.append(vec)
            continue
        run_draft = runs[i]
        assert run_draft is not None
        run = run_draft
        chosen = solution.get(i)
        if chosen is None:
            n = len(candidates[i])
            reason = (
                f"fused digits {run.raw!r}: no split adds up (T3.row_total)"
                if n == 0
                else f"fused digits {run.raw!r}: {n} splits satisfy the identities; refusing to choose"
            )
            vectors.append([Draft.refused("unparseable", reason, run.raw, run.start, run.end)] * WIDTH)
            continue
        multi = len(run.raw.split()) != WIDTH
        flags = ("reconstructed",) if multi else ()
        vectors.append([Draft(run.raw, run.start, run.end, run.dom, value=v, flags=flags) for v in chosen])
        if multi:
            reading.deviations.append(
                Deviation(
                    code="D22",
                    path=f"/applications/rows/{rows[i].key}",
                    detail=f"fused run {run.raw!r} split as {list(chosen)}",
                )
            )
    return vectors


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
        for col in range(WIDTH):
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
