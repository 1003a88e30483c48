"""Turning a region of a normalised document into label hits and value tokens.

Labels are found on the compact view (so wrapped, spaced and page-broken labels still match); values
are read from the exact text (so "0 0 0" stays three cells). A digit run that runs into a label is cut
where the label begins: the glued digit is the label's ordinal (D23), not part of a cell.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypedDict

from gouji.worker.extract.values import DASHES, NOT_APPLICABLE, clean
from gouji.worker.read.document import NormalisedDoc, page_mark_spans

HitKind = Literal["row", "group", "header", "caption", "stop"]


@dataclass(frozen=True)
class Hit:
    key: str
    kind: HitKind
    cstart: int  # compact-view span
    cend: int
    start: int  # original-text span
    end: int


TokenKind = Literal["num", "na", "empty", "text"]


class _Where(TypedDict):
    page: int | None
    bbox: tuple[float, float, float, float] | None
    confidence: float | None


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    kind: TokenKind
    grid_row: int | None = None  # index into doc.rows when the token is a table cell
    dom: str | None = None
    page: int | None = None  # where the cell is on a page (PDF/scan inputs), see GridCell
    bbox: tuple[float, float, float, float] | None = None
    confidence: float | None = None  # OCR confidence of the cell's text


_NUM = re.compile(r"[+\-－]?\d+(?:,\d{3})*(?:[.．]\d+)?(?:万元|元)?")
_NA = re.compile(r"(?<!\S)(?:/|／|—+|－|-|无|不适用)(?!\S)")
_VALUE_CELL = re.compile(r"^(?:[+\-]?\d[\d,]*(?:\.\d+)?(?:万元|元|件|个|项)?)$")


def find_hits(doc: NormalisedDoc, patterns: Iterable[tuple[str, HitKind, str]], start: int, end: int) -> list[Hit]:
    """Every non-overlapping match of the (key, kind, regex) patterns in [start, end), longest first."""
    cv = doc.compact
    cs, ce = cv.compact_index(start), cv.compact_index(end)
    found: list[Hit] = []
    for key, kind, rx in patterns:
        for m in re.finditer(rx, cv.text[cs:ce]):
            a, b = cs + m.start(), cs + m.end()
            o0, o1 = cv.span(a, b)
            found.append(Hit(key, kind, a, b, o0, o1))
    found.sort(key=lambda h: (h.cstart, -(h.cend - h.cstart)))
    out: list[Hit] = []
    for h in found:
        if out and h.cstart < out[-1].cend:
            continue
        out.append(h)
    return out


def _covered(spans: list[tuple[int, int]], a: int, b: int) -> bool:
    return any(s < b and a < e for s, e in spans)


def scan_tokens(doc: NormalisedDoc, start: int, end: int, hits: list[Hit]) -> list[Token]:
    """Value tokens in [start, end): table cells where the document has a grid, numbers in free text."""
    hit_spans = [(h.start, h.end) for h in hits]
    tokens: list[Token] = []
    grid_spans: list[tuple[int, int]] = []
    for gi, row in enumerate(doc.rows):
        if row.end <= start or row.start >= end:
            continue
        grid_spans.append((row.start, row.end))
        for cell in row.cells:
            if not start <= cell.start < end:
                continue
            t = clean(cell.text)
            where = _Where(page=cell.page, bbox=cell.bbox, confidence=cell.confidence)
            if not t:
                tokens.append(Token("", cell.start, cell.end, "empty", gi, cell.dom, **where))
            elif t in NOT_APPLICABLE or t in DASHES:
                tokens.append(Token(cell.text, cell.start, cell.end, "na", gi, cell.dom, **where))
            elif _VALUE_CELL.match(t):
                tokens.append(Token(cell.text, cell.start, cell.end, "num", gi, cell.dom, **where))
            elif _covered(hit_spans, cell.start, cell.end):
                free = _free_tokens(doc.text, cell.start, cell.end, hit_spans, gi, cell.dom)
                tokens.extend(dataclasses.replace(tok, **where) for tok in free)
            elif any(ch.isdigit() for ch in t):
                tokens.append(Token(cell.text, cell.start, cell.end, "text", gi, cell.dom, **where))
    # free text between grid rows (loose lines of a broken markdown conversion, flattened text)
    pos = start
    for s, e in sorted(grid_spans):
        if s > pos:
            tokens.extend(_free_tokens(doc.text, pos, min(s, end), hit_spans))
        pos = max(pos, e)
    if pos < end:
        tokens.extend(_free_tokens(doc.text, pos, end, hit_spans))
    tokens.sort(key=lambda t: t.start)
    return tokens


def _free_tokens(
    text: str, a: int, b: int, hit_spans: list[tuple[int, int]], grid_row: int | None = None, dom: str | None = None
) -> list[Token]:
    out: list[Token] = []
    marks = page_mark_spans(text[a:b])
    for rx, kind in ((_NUM, "num"), (_NA, "na")):
        for m in rx.finditer(text, a, b):
            s, e = m.start(), m.end()
            if _covered([(a + x, a + y) for x, y in marks], s, e):
                continue
            for hs, he in hit_spans:  # a digit run running into a label stops where the label starts
                if hs < e and s < he:
                    e = hs if hs > s else s
            if e <= s or (kind == "num" and not any(ch.isdigit() for ch in text[s:e])):
                continue
            out.append(Token(text[s:e], s, e, kind, grid_row, dom))  # type: ignore[arg-type]
    return out
