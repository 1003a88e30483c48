"""Table 四 (行政复议、行政诉讼): one row of fifteen numbers under a three-level header.

The fifteen numbers are read in positional order. When they break T4.total, two causes are possible and
are told apart: the agency's own error (hongze-2023 prints 总计 0 under 10 and 1 — kept, and the check
fails as a source anomaly), or text whose reading order scrambled the header blocks (huaian-2024's
pdftotext) — detected when the same numbers, regrouped as contiguous four-leaf blocks with their totals
elsewhere, satisfy every identity; the columns then cannot be told apart from text, so they are refused.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

from gouji.schemas.cells import Span
from gouji.schemas.report import Deviation, TableMeta
from gouji.schemas.template import T4_GROUPS, T4_HEADER_WORDS, T4_LEAVES, Column
from gouji.worker.extract.common import Draft, Reading, build_cell, run_of
from gouji.worker.extract.fused import group_total_splits
from gouji.worker.extract.labels import word_pattern
from gouji.worker.extract.scan import HitKind, Token, find_hits, scan_tokens
from gouji.worker.read.document import NormalisedDoc

N = len(T4_GROUPS) * len(T4_LEAVES)
_HEADER_CHARS = set("".join(T4_HEADER_WORDS)) | set("、，,()（）")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def patterns() -> list[tuple[str, HitKind, str]]:
    return [(w, "header", word_pattern(w)) for w in T4_HEADER_WORDS]


def read_table4(doc: NormalisedDoc, start: int, end: int, hints: dict[str, set[int]] | None = None) -> Reading:
    """Read table 四. `hints` are group totals the report's prose states (N.review): when the text
    scrambled the groups, a stated total may identify its group; it never overrides a printed number."""
    hits = find_hits(doc, patterns(), start, end)
    tokens = scan_tokens(doc, start, end, hits)
    vals = _values(doc, tokens, start)
    reading = Reading(headers={"review_litigation": [doc.text[h.start : h.end] for h in hits]})
    keys = [(g, leaf) for g, _ in T4_GROUPS for leaf, _ in T4_LEAVES]
    drafts: list[Draft]
    nums = [t for t in vals if t.kind != "empty"]
    if len(vals) == N:
        drafts = [Draft.of(t) for t in vals]
        ints = [_int(t) for t in vals]
        groupings = _regroupings(ints) if None not in ints and not _totals_hold(ints) else []  # type: ignore[arg-type]
        if groupings:
            reason = (
                "the text's reading order scrambled table 四: the numbers add up only when regrouped, and "
                "text alone cannot tell which group is which column"
            )
            run = run_of(vals, doc.text)
            drafts = [Draft.refused("unparseable", reason, run.raw, run.start, run.end, ambiguous=True) for _ in vals]
            reading.deviations.append(
                Deviation(code="D03", path="/review_litigation", detail=reason + f": {run.raw!r}")
            )
            stated = (hints or {}).get("review_litigation.review.total", set())
            review = {g for grouping in groupings for g in grouping if ints[g[1]] in stated}
            if len(review) == 1:
                ((quad, tot),) = review
                order = [*range(quad, quad + 4), tot]
                drafts[:5] = [dataclasses.replace(Draft.of(vals[i]), flags=("narrative_confirmed",)) for i in order]
                reading.deviations.append(
                    Deviation(
                        code="D03",
                        path="/review_litigation/review",
                        detail=(
                            f"行政复议 identified by the total the prose states ({ints[tot]}) among the regrouped blocks"
                        ),
                    )
                )
    elif nums and len(nums) < N and all(t.kind == "num" and t.text.strip().isdigit() for t in nums):
        run = run_of(nums, doc.text)
        options = group_total_splits(run.raw, len(T4_GROUPS), len(T4_LEAVES) - 1)
        if len(options) == 1:
            drafts = [dataclasses.replace(run, value=v, flags=("reconstructed",)) for v in options[0]]
            reading.deviations.append(
                Deviation(code="D22", path="/review_litigation", detail=f"fused run {run.raw!r} split by T4.total")
            )
        else:
            reason = f"fused digits {run.raw!r}: {len(options)} splits satisfy T4.total; refusing to choose"
            drafts = [Draft.refused("unparseable", reason, run.raw, run.start, run.end, ambiguous=len(options) > 1)] * N
    elif not nums:
        drafts = [Draft.refused("missing", "table 四 has no numbers")] * N
    else:
        run = run_of(vals, doc.text)
        drafts = [Draft.refused("unparseable", f"{len(vals)} values where {N} belong", run.raw, run.start, run.end)] * N
    for (g, leaf), d in zip(keys, drafts, strict=True):
        reading.cells[f"review_litigation.{g}.{leaf}"] = build_cell(d, Column(leaf, leaf), doc.cell_method, None)
    if vals:
        reading.meta = TableMeta(prov=Span(start=vals[0].start, end=vals[-1].end), method=doc.cell_method)
    return reading


def _values(doc: NormalisedDoc, tokens: list[Token], start: int) -> list[Token]:
    """The table's numbers: from the header on, up to the first text that is not header text."""
    out: list[Token] = []
    prev = start
    for t in tokens:
        gap = doc.text[prev : t.start]
        if out and any(ch not in _HEADER_CHARS for ch in _CJK.findall(gap)):
            break
        if t.kind == "empty" and (
            t.grid_row is None or not any(x.grid_row == t.grid_row and x.kind == "num" for x in tokens)
        ):
            continue
        out.append(t)
        prev = t.end
    return out


def _int(t: Token) -> int | None:
    s = t.text.strip()
    return int(s) if s.isdigit() else None


def _totals_hold(v: list[int]) -> bool:
    return all(sum(v[i : i + 4]) == v[i + 4] for i in range(0, N, 5))


def _regroupings(v: list[int]) -> list[list[tuple[int, int]]]:
    """Ways to read the numbers as three contiguous four-leaf blocks with their totals elsewhere.

    Each grouping lists (first leaf position, total position) per block; any grouping means the text's
    order, not the agency, broke T4.total.
    """
    out: list[list[tuple[int, int]]] = []
    for starts in itertools.combinations(range(N - 3), 3):
        covered = [p for s in starts for p in range(s, s + 4)]
        if len(set(covered)) != 12:
            continue
        rest = [p for p in range(N) if p not in covered]
        sums = [sum(v[s : s + 4]) for s in starts]
        for perm in itertools.permutations(rest):
            if all(v[p] == s for p, s in zip(perm, sums, strict=True)):
                out.append(list(zip(starts, perm, strict=True)))
    return out
