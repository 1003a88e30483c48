"""Table 二 (主动公开政府信息情况): caption blocks of 第二十条 with one to three values per row.

Inside a caption block whose numbers are exactly as many as its cells, the numbers are the cells in
template order — that also reads PDF text where a row label follows its number. Otherwise each row takes
the numbers after its label. A fused run ("规范性文件898989") has no identity to split it by, so it is
split only when number syntax alone leaves one answer ("000"); else its cells are refused (D22).
"""

from __future__ import annotations

import dataclasses

from gouji.schemas.cells import Span
from gouji.schemas.report import Deviation, RowLabel, TableMeta
from gouji.schemas.template import TABLE2, TABLE2_HEADER_WORDS, Block, Version
from gouji.worker.extract.common import Draft, Reading, build_cell, run_of
from gouji.worker.extract.fused import splits
from gouji.worker.extract.labels import row_pattern, word_pattern
from gouji.worker.extract.scan import Hit, HitKind, Token, find_hits, scan_tokens
from gouji.worker.read.document import NormalisedDoc


def patterns(version: Version) -> list[tuple[str, HitKind, str]]:
    out: list[tuple[str, HitKind, str]] = []
    for b in TABLE2[version]:
        out.append((b.key, "caption", rf"第二十条第?\({b.numeral}\)项"))
        out += [(f"{b.key}.{r.key}", "row", row_pattern(r)) for r in b.rows]
    out += [(w, "header", word_pattern(w)) for w in TABLE2_HEADER_WORDS]
    return out


def read_table2(
    doc: NormalisedDoc, start: int, end: int, version: Version, hints: dict[str, set[int]] | None = None
) -> Reading:
    """Read table 二. `hints` are values the report's own prose states for a cell (N.docs): they may pick
    the one split of a fused run that agrees with the prose, never override a printed number."""
    hits = find_hits(doc, patterns(version), start, end)
    tokens = [t for t in scan_tokens(doc, start, end, hits) if t.kind != "empty" or t.grid_row is not None]
    reading = Reading()
    captions = {h.key: h for h in reversed(hits) if h.kind == "caption"}
    row_hits = {h.key: h for h in reversed(hits) if h.kind == "row"}
    caption_starts = sorted(h.start for h in captions.values())
    method = doc.cell_method
    for block in TABLE2[version]:
        cap = captions.get(block.key)
        if cap is not None:
            reading.labels[f"active_disclosure.{block.key}"] = RowLabel(
                label_raw=doc.text[cap.start : cap.end], label_prov=Span(start=cap.start, end=cap.end)
            )
        for r in block.rows:
            h = row_hits.get(f"{block.key}.{r.key}")
            if h is not None:
                reading.labels[f"active_disclosure.{block.key}.{r.key}"] = RowLabel(
                    label_raw=doc.text[h.start : h.end], label_prov=Span(start=h.start, end=h.end)
                )
        drafts = _block_sequential(block, cap, caption_starts, tokens, end)
        if drafts is None:
            drafts = _by_labels(doc, block, row_hits, hits, tokens, reading, hints or {})
        for r in block.rows:
            for c in block.columns:
                key = f"active_disclosure.{block.key}.{r.key}.{c.key}"
                reading.cells[key] = build_cell(drafts[(r.key, c.key)], c, method, row_hits.get(f"{block.key}.{r.key}"))
    for block in TABLE2[version]:
        cap = captions.get(block.key)
        if cap is None:
            continue
        nxt = next((s for s in caption_starts if s > cap.start), end)
        words = [doc.text[h.start : h.end] for h in hits if h.kind == "header" and cap.end <= h.start < nxt]
        reading.headers[f"active_disclosure.{block.key}"] = words
        if any("".join(w.split()) == "本年增/" for w in words):
            reading.deviations.append(
                Deviation(
                    code="D04",
                    path=f"/active_disclosure/{block.key}/header_raw",
                    detail="header '本年增/' truncated (expected 本年增/减)",
                )
            )
    if tokens:
        reading.meta = TableMeta(prov=Span(start=tokens[0].start, end=tokens[-1].end), method=method)
    return reading


def _block_sequential(
    block: Block, cap: Hit | None, caption_starts: list[int], tokens: list[Token], end: int
) -> dict[tuple[str, str], Draft] | None:
    if cap is None:
        return None
    nxt = next((s for s in caption_starts if s > cap.start), end)
    toks = [t for t in tokens if cap.end <= t.start < nxt and t.kind != "empty"]
    cells = [(r.key, c.key) for r in block.rows for c in block.columns]
    if len(toks) != len(cells):
        return None
    return {rc: Draft.of(t) for rc, t in zip(cells, toks, strict=True)}


def _by_labels(
    doc: NormalisedDoc,
    block: Block,
    row_hits: dict[str, Hit],
    hits: list[Hit],
    tokens: list[Token],
    reading: Reading,
    hints: dict[str, set[int]],
) -> dict[tuple[str, str], Draft]:
    """Each row of `block` from the numbers after its label: as printed when there are as many as cells,
    split when they are one fused run that number syntax (or the prose) splits one way, else refused."""
    out: dict[tuple[str, str], Draft] = {}
    width = len(block.columns)
    for r in block.rows:
        h = row_hits.get(f"{block.key}.{r.key}")
        keys = [(r.key, c.key) for c in block.columns]
        if h is None:
            out.update({k: Draft.refused("missing", f"row label {r.label} not found") for k in keys})
            continue
        seg = _row_segment(h, hits, tokens)
        if len(seg) == width:
            out.update({k: Draft.of(t) for k, t in zip(keys, seg, strict=True)})
        elif not seg:
            out.update({k: Draft.refused("missing", "no value after the row label", "", h.end, h.end) for k in keys})
        elif len(seg) < width and all(t.kind == "num" for t in seg):
            out.update(_split_fused(doc, block, r.key, seg, reading, hints))
        else:
            run = run_of(seg, doc.text)
            reason = f"{len(seg)} values where {width} belong"
            out.update({k: Draft.refused("unparseable", reason, run.raw, run.start, run.end) for k in keys})
    return out


def _row_segment(h: Hit, hits: list[Hit], tokens: list[Token]) -> list[Token]:
    """The tokens after row label `h` up to the next label (in a table row: that row's tokens only)."""
    nxt = next((x.start for x in hits if x.start >= h.end), None)
    seg = [t for t in tokens if t.start >= h.end and (nxt is None or t.start < nxt)]
    if seg and seg[0].grid_row is not None:
        seg = [t for t in seg if t.grid_row == seg[0].grid_row]
    return seg


def _split_fused(
    doc: NormalisedDoc,
    block: Block,
    row: str,
    seg: list[Token],
    reading: Reading,
    hints: dict[str, set[int]],
) -> dict[tuple[str, str], Draft]:
    """A row whose numbers ran together: split only when one split is valid by number syntax alone, or
    exactly one agrees with values the report's prose states (N.docs); else every cell is refused (D22)."""
    keys = [(row, c.key) for c in block.columns]
    run = run_of(seg, doc.text)
    options = splits(run.raw.rstrip("元万"), [c.kind for c in block.columns])
    flags: tuple[str, ...] = ("reconstructed",)
    why = "a single valid split"
    prefix = f"active_disclosure.{block.key}.{row}."
    stated = [(i, hints[prefix + c.key]) for i, c in enumerate(block.columns) if prefix + c.key in hints]
    if len(options) > 1 and stated:
        agreeing = [o for o in options if all(o[i] in vals for i, vals in stated)]
        if len(agreeing) == 1:
            options, flags = agreeing, ("reconstructed", "narrative_confirmed")
            why = "one split agreeing with the values the report's prose states (N.docs)"
    if len(options) != 1:
        reason = (
            f"fused digits {run.raw!r} admit {len(options)} splits and no identity decides "
            "between them (D22: unsplittable)"
        )
        return {k: Draft.refused("unparseable", reason, run.raw, run.start, run.end, ambiguous=True) for k in keys}
    reading.deviations.append(
        Deviation(
            code="D22", path=f"/active_disclosure/{block.key}/rows/{row}", detail=f"fused run {run.raw!r} has {why}"
        )
    )
    return {k: dataclasses.replace(run, value=v, flags=flags) for k, v in zip(keys, options[0], strict=True)}
