"""The one normalised form every input becomes: exact text with offsets, plus structured table rows.

Provenance offsets in a report always point into `NormalisedDoc.text`, whose SHA-256 is stored with
the report, so a reviewer can find every number again. Matching never edits that text: labels are
matched on a `CompactView` (NFKC, no whitespace, no page-number lines) that maps back to it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from schemas.cells import Method


@dataclass(frozen=True)
class GridCell:
    """A physical table cell. `start == end` for an empty cell (its position in the text)."""

    start: int
    end: int
    text: str
    col: int = 0  # first grid column after rowspan/colspan expansion
    colspan: int = 1
    rowspan: int = 1
    dom: str | None = None


@dataclass(frozen=True)
class GridRow:
    """One table row (HTML <tr> or markdown pipe row), cells in reading order."""

    cells: tuple[GridCell, ...]
    start: int
    end: int
    table: int = 0
    index: int = 0  # row index inside its table


@dataclass
class NormalisedDoc:
    path: str
    text: str
    media_type: str
    sha256: str
    encoding: str | None = None
    rows: list[GridRow] = field(default_factory=list)
    cell_method: Method = "text_line"

    @cached_property
    def text_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @cached_property
    def compact(self) -> CompactView:
        return CompactView(self.text)

    def grid(self, table: int) -> list[list[GridCell | None]]:
        """Table `table` as a rectangular grid, merged cells repeated into every slot they cover."""
        rows = [r for r in self.rows if r.table == table]
        width = max((c.col + c.colspan for r in rows for c in r.cells), default=0)
        out: list[list[GridCell | None]] = [[None] * width for _ in rows]
        for i, r in enumerate(rows):
            for c in r.cells:
                for di in range(c.rowspan):
                    for dj in range(c.colspan):
                        if i + di < len(out) and c.col + dj < width:
                            out[i + di][c.col + dj] = c
        return out


# Lines that are page furniture inside a table: "-4-", "- 4 -", "第 3 页", "第3页 共5页" (deviation D24).
PAGE_MARK = re.compile(
    r"(?m)^[ \t]*(?:[-－—][ \t]*\d{1,3}[ \t]*[-－—]|第[ \t]*\d{1,3}[ \t]*页(?:[ \t]*共[ \t]*\d{1,3}[ \t]*页)?)[ \t]*$"
)

_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "‘": "'", "’": "'", "、": "、"})


def page_mark_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PAGE_MARK.finditer(text)]


class CompactView:
    """Text for label matching: NFKC, quotes unified, 其它→其他, all whitespace and page marks removed.

    `offset(i)` maps compact index i back to the code-point offset in the original text, so a label found
    here gets an exact span there.
    """

    def __init__(self, text: str) -> None:
        skip = page_mark_spans(text)
        chars: list[str] = []
        index: list[int] = []
        k = 0
        for i, ch in enumerate(text):
            while k < len(skip) and skip[k][1] <= i:
                k += 1
            if k < len(skip) and skip[k][0] <= i < skip[k][1]:
                continue
            if ch.isspace():
                continue
            for out in unicodedata.normalize("NFKC", ch).translate(_QUOTES):
                if out.isspace():
                    continue
                chars.append(out)
                index.append(i)
        self.text = "".join(chars).replace("其它", "其他")
        self._index = index
        self._len = len(text)

    def offset(self, i: int) -> int:
        """Original offset of compact position i (i may equal len(compact) → end of text)."""
        return self._index[i] if i < len(self._index) else self._len

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering compact [start, end)."""
        if end <= start:
            o = self.offset(start)
            return o, o
        return self.offset(start), self.offset(end - 1) + 1

    def find(self, needle: str, start: int = 0, end: int | None = None) -> int:
        return self.text.find(needle, start, len(self.text) if end is None else end)

    def compact_index(self, original: int) -> int:
        """First compact position whose original offset is >= `original`."""
        lo, hi = 0, len(self._index)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._index[mid] < original:
                lo = mid + 1
            else:
                hi = mid
        return lo


def match_key(s: str) -> str:
    """A label as the compact view would show it (for comparing template labels with found ones)."""
    return "".join(unicodedata.normalize("NFKC", s).translate(_QUOTES).split()).replace("其它", "其他")
