"""The one normalised form every input becomes: exact text with offsets, plus structured table rows.

Provenance offsets in a report always point into `NormalisedDoc.text`, whose SHA-256 is stored with
the report, so a reviewer can find every number again. Matching never edits that text: labels are
matched on a `CompactView` (NFKC, no whitespace, no page-number lines) that maps back to it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from gouji.schemas.cells import Method


@dataclass(frozen=True)
class GridCell:
    """A physical table cell. `start == end` for an empty cell (its position in the text).

    Cells read from a page (PDF text layer, OCR) also say where they are on it: `page` (1-based) and
    `bbox` (x0, top, x1, bottom) in the unit of `NormalisedDoc.pages[page - 1]` (PDF points, or pixels
    of the deskewed page image for OCR); OCR cells carry the recogniser's lowest confidence in the cell.
    """

    start: int
    end: int
    text: str
    col: int = 0  # first grid column after rowspan/colspan expansion
    colspan: int = 1
    rowspan: int = 1
    dom: str | None = None
    page: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class PageInfo:
    """Size of a page in the unit its cells' bboxes use ("pt" = PDF points, "px" = image pixels)."""

    number: int
    width: float
    height: float
    unit: str
    ocr: bool = False


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
    pages: list[PageInfo] = field(default_factory=list)  # empty for inputs without pages (text, HTML)

    @classmethod
    def of(
        cls,
        data: bytes,
        path: str,
        text: str,
        encoding: str | None,
        media_type: str,
        cell_method: Method,
        rows: list[GridRow] | None = None,
        pages: list[PageInfo] | None = None,
    ) -> NormalisedDoc:
        """A document read from the original bytes `data` (whose hash identifies the source)."""
        return cls(
            path=path,
            text=text,
            media_type=media_type,
            sha256=hashlib.sha256(data).hexdigest(),
            encoding=encoding,
            rows=rows or [],
            cell_method=cell_method,
            pages=pages or [],
        )

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

_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "‘": "'", "’": "'"})
_NON_SPACE = re.compile(r"\S+")
_COMBINING = re.compile(r"[\u0300-\u036f\u3099\u309a]")


def page_mark_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PAGE_MARK.finditer(text)]


class CompactView:
    """Text for label matching: NFKC, quotes unified, 其它→其他, all whitespace and page marks removed.

    `offset(i)` maps compact index i back to the code-point offset in the original text, so a label found
    here gets an exact span there.
    """

    def __init__(self, text: str) -> None:
        masked = text
        for a, b in page_mark_spans(text):
            masked = masked[:a] + " " * (b - a) + masked[b:]
        norm = unicodedata.normalize("NFKC", masked)
        if len(norm) != len(masked) or _COMBINING.search(masked):
            chars, index = self._per_char(masked)
        else:
            # Fast path: NFKC kept every character one-for-one (the usual case for these reports), so
            # positions carry over and only whitespace has to be dropped.
            pieces = [m for m in _NON_SPACE.finditer(norm)]
            chars = [m.group() for m in pieces]
            index = [i for m in pieces for i in range(m.start(), m.end())]
        self.text = "".join(chars).translate(_QUOTES).replace("其它", "其他")
        self._index = index
        self._len = len(text)

    @staticmethod
    def _per_char(text: str) -> tuple[list[str], list[int]]:
        chars: list[str] = []
        index: list[int] = []
        for i, ch in enumerate(text):
            for out in unicodedata.normalize("NFKC", ch):
                if not out.isspace():
                    chars.append(out)
                    index.append(i)
        return chars, index

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
        return bisect.bisect_left(self._index, original)


def match_key(s: str) -> str:
    """A label as the compact view would show it (for comparing template labels with found ones)."""
    return "".join(unicodedata.normalize("NFKC", s).translate(_QUOTES).split()).replace("其它", "其他")
