"""Positioned text → NormalisedDoc: the part PDF text layers and OCR share.

A page reader (pdf.py from the text layer, ocr.py from recognised text) supplies text boxes with
positions and the ruling lines it found. Here the ruling lines become table grids (pdfplumber's own
edge → intersection → cell functions, which work on plain dicts whatever drew the lines), boxes are
assigned to cells by their centre, the rest of the page becomes text lines (a line whose boxes stand
far apart is a table row without rulings), tables continued on the next page are joined, and page
furniture (page numbers) is dropped. The output is one text with exact offsets plus GridRows whose
cells carry page, bbox and OCR confidence, so the extractors never see where a report came from.

Coordinates: a bbox is (x0, top, x1, bottom) in the page's own unit — PDF points for text layers,
pixels of the (deskewed) page image for OCR — with the page size in the same unit in
`NormalisedDoc.pages`, so a viewer can scale a box onto any rendering of the page.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pdfplumber.table import cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges

from gouji.worker.read.document import GridCell, GridRow, PageInfo

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class TextBox:
    """A run of text on a page: a PDF word or an OCR text line, with the recogniser's confidence."""

    text: str
    bbox: BBox
    confidence: float | None = None

    @property
    def cx(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass
class LayoutCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    bbox: BBox
    text: str
    confidence: float | None


@dataclass
class LayoutTable:
    bbox: BBox
    cells: list[LayoutCell]
    columns: list[float]  # x of every column boundary, to recognise the same table on the next page
    rows: int


@dataclass
class LayoutLine:
    """A line of text outside ruled tables; `cells` is set when its boxes stand apart like table cells."""

    bbox: BBox
    boxes: list[TextBox]
    cells: list[list[TextBox]] | None = None


@dataclass
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    unit: str  # "pt" or "px"
    items: list[LayoutLine | LayoutTable] = field(default_factory=list)
    ocr: bool = False  # the page was read by OCR


# --- ruling lines → table grids ----------------------------------------------------------------------


def edge(x0: float, top: float, x1: float, bottom: float) -> dict[str, Any]:
    """A ruling line in pdfplumber's edge form (horizontal when wider than tall)."""
    horizontal = (x1 - x0) >= (bottom - top)
    if horizontal:
        y = (top + bottom) / 2
        return {"x0": x0, "x1": x1, "top": y, "bottom": y, "width": x1 - x0, "height": 0, "orientation": "h"}
    x = (x0 + x1) / 2
    return {"x0": x, "x1": x, "top": top, "bottom": bottom, "width": 0, "height": bottom - top, "orientation": "v"}


def table_regions(edges: list[dict[str, Any]], tolerance: float, min_length: float) -> list[list[BBox]]:
    """Cell rectangles of every table the ruling lines draw (each table: ≥ 2 cells)."""
    merged = merge_edges(edges, tolerance, tolerance, tolerance, tolerance)
    merged = [e for e in merged if (e["width"] if e["orientation"] == "h" else e["height"]) >= min_length]
    cells = intersections_to_cells(edges_to_intersections(merged, tolerance, tolerance))
    return [[(float(a), float(b), float(c), float(d)) for a, b, c, d in t] for t in cells_to_tables(cells)]


def _boundaries(values: Sequence[float], tolerance: float) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tolerance:
            out.append(v)
    return out


def _index(bounds: list[float], v: float) -> int:
    return min(range(len(bounds)), key=lambda i: abs(bounds[i] - v))


def build_table(regions: list[BBox], boxes: list[TextBox], tolerance: float) -> LayoutTable:
    """A grid from cell rectangles: row/col/span from the distinct cell edges, text from boxes inside."""
    xs = _boundaries([c[0] for c in regions] + [c[2] for c in regions], tolerance)
    ys = _boundaries([c[1] for c in regions] + [c[3] for c in regions], tolerance)
    regions = _disjoint(regions, tolerance)
    cells: list[LayoutCell] = []
    for r in sorted([*regions, *_holes(regions, xs, ys)], key=lambda c: (c[1], c[0])):
        row, col = _index(ys, r[1]), _index(xs, r[0])
        inside = [b for b in boxes if r[0] <= b.cx < r[2] and r[1] <= b.cy < r[3]]
        text, conf = join_boxes(inside)
        cells.append(
            LayoutCell(row, col, max(_index(ys, r[3]) - row, 1), max(_index(xs, r[2]) - col, 1), r, text, conf)
        )
    bbox = (xs[0], ys[0], xs[-1], ys[-1])
    return LayoutTable(bbox, cells, xs, len(ys) - 1)


def _disjoint(regions: list[BBox], tolerance: float) -> list[BBox]:
    """The cells without the rectangles that enclose other cells.

    Table cells never overlap; a rectangle around other cells is drawn by the outer rulings where an
    inner one is broken (a stamp, faded ink), and would take every box inside it, header and numbers
    alike. Its slots that no other cell covers become cells of their own (_holes).
    """

    def encloses(a: BBox, b: BBox) -> bool:
        return (
            a != b and all(a[i] - tolerance <= b[i] for i in (0, 1)) and all(b[i] <= a[i] + tolerance for i in (2, 3))
        )

    return [a for a in regions if not any(encloses(a, b) for b in regions)]


def _holes(regions: list[BBox], xs: list[float], ys: list[float]) -> list[BBox]:
    """Slots of the table's lattice that no found cell covers, as cells of their own.

    A ruling broken by a scan (faded ink, a stamp, a fold) leaves a slot with no rectangle around it;
    the text in it still belongs to the table (the page's lines skip the table's area), so without this
    it would be lost and the row would come back short. A slot becomes one cell: the grid around it
    still says which row and column it is.
    """
    covered = set()
    for r in regions:
        r0, r1 = _index(ys, r[1]), _index(ys, r[3])
        c0, c1 = _index(xs, r[0]), _index(xs, r[2])
        covered |= {(i, j) for i in range(r0, max(r1, r0 + 1)) for j in range(c0, max(c1, c0 + 1))}
    return [
        (xs[j], ys[i], xs[j + 1], ys[i + 1])
        for i in range(len(ys) - 1)
        for j in range(len(xs) - 1)
        if (i, j) not in covered
    ]


# --- text boxes → lines and cell text ----------------------------------------------------------------

_ASCII_WORD = re.compile(r"[A-Za-z]")


def group_lines(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into visual lines (vertical centres within half a line height), each sorted by x."""
    lines: list[list[TextBox]] = []
    for b in sorted(boxes, key=lambda b: b.cy):
        if lines:
            last = lines[-1]
            mid = statistics.fmean(x.cy for x in last)
            h = max(statistics.fmean(x.height for x in last), b.height)
            if abs(b.cy - mid) < h / 2:
                last.append(b)
                continue
        lines.append([b])
    return [sorted(line, key=lambda b: b.bbox[0]) for line in lines]


def _glue(a: str, b: str) -> str:
    """Join two pieces of one cell: nothing between CJK or digits (a wrapped label or number), a space
    between Latin words."""
    if not a or not b:
        return a + b
    return a + (" " if _ASCII_WORD.match(a[-1]) and _ASCII_WORD.match(b[0]) else "") + b


def join_boxes(boxes: list[TextBox]) -> tuple[str, float | None]:
    """The text of a cell (lines top to bottom, boxes left to right) and its lowest OCR confidence."""
    text = ""
    for line in group_lines(boxes):
        for b in line:
            text = _glue(text, b.text.strip())
    confs = [b.confidence for b in boxes if b.confidence is not None]
    return text, (min(confs) if confs else None)


def split_line(line: list[TextBox], gap: float) -> list[list[TextBox]]:
    """A line's boxes split where they stand more than `gap` apart (columns of a table without rulings)."""
    out: list[list[TextBox]] = [[line[0]]]
    for prev, b in itertools.pairwise(line):
        if b.bbox[0] - prev.bbox[2] > gap:
            out.append([b])
        else:
            out[-1].append(b)
    return out


def free_lines(boxes: list[TextBox]) -> list[LayoutLine]:
    """Text outside ruled tables as lines; a line of ≥ 2 far-apart parts with a number is kept as cells."""
    out: list[LayoutLine] = []
    for line in group_lines(boxes):
        height = statistics.median(b.height for b in line)
        parts = split_line(line, 0.8 * height)
        bbox = (
            min(b.bbox[0] for b in line),
            min(b.bbox[1] for b in line),
            max(b.bbox[2] for b in line),
            max(b.bbox[3] for b in line),
        )
        numeric = any(any(ch.isdigit() for ch in join_boxes(p)[0]) for p in parts)
        out.append(LayoutLine(bbox, line, parts if len(parts) > 1 and numeric else None))
    return out


def page_items(boxes: list[TextBox], tables: list[LayoutTable]) -> list[LayoutLine | LayoutTable]:
    """Tables plus the lines of the boxes that fall in no table, top to bottom."""

    def inside(b: TextBox, t: LayoutTable) -> bool:
        x0, y0, x1, y1 = t.bbox
        return x0 <= b.cx <= x1 and y0 <= b.cy <= y1

    rest = [b for b in boxes if not any(inside(b, t) for t in tables)]
    items: list[LayoutLine | LayoutTable] = [*tables, *free_lines(rest)]
    items.sort(key=lambda i: i.bbox[1])
    return items


# --- pages → text and grid rows ----------------------------------------------------------------------

# A line that is only page furniture: "3", "- 3 -", "—3—", "第3页", "第 3 页 共 6 页", "3/6".
_FURNITURE = re.compile(
    r"^[-－—–\s]*\d{1,3}[-－—–\s]*$|^第\s*\d{1,3}\s*页(\s*[,，]?\s*共\s*\d{1,3}\s*页)?$|^\d{1,3}\s*/\s*\d{1,3}$"
)
MARGIN = 0.1  # page numbers live in the top/bottom tenth of a page


def is_furniture(line: LayoutLine, page: PageLayout) -> bool:
    in_margin = line.bbox[3] < page.height * MARGIN or line.bbox[1] > page.height * (1 - MARGIN)
    text = "".join(b.text for b in line.boxes).strip()
    return in_margin and bool(_FURNITURE.match(text))


def _continues(prev: LayoutTable | None, table: LayoutTable, tolerance: float) -> bool:
    """The table at the top of a page continues the one at the bottom of the previous page: same columns."""
    if prev is None or len(prev.columns) != len(table.columns):
        return False
    return all(abs(a - b) <= tolerance for a, b in zip(prev.columns, table.columns, strict=True))


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.rows: list[GridRow] = []

    def write(self, s: str) -> tuple[int, int]:
        start = self.pos
        self.parts.append(s)
        self.pos += len(s)
        return start, self.pos

    def text(self) -> str:
        return "".join(self.parts)


def assemble(pages: list[PageLayout], tolerance: float = 3.0) -> tuple[str, list[GridRow], list[PageInfo]]:
    """One text (lines, table rows as TAB-separated cells) with GridRows carrying page and bbox."""
    w = _Writer()
    table_no = -1
    row_no = 0
    prev: LayoutTable | None = None  # the last table, while nothing but furniture followed it
    in_free_table = False  # the previous line was a row of a table without rulings
    for page in pages:
        scale = tolerance * (page.width / 595.0 if page.unit == "px" else 1.0)
        for item in page.items:
            if isinstance(item, LayoutTable):
                if not _continues(prev, item, scale):
                    table_no, row_no = table_no + 1, 0
                row_no = _write_table(w, item, page.number, table_no, row_no)
                prev, in_free_table = item, False
                continue
            if is_furniture(item, page):
                continue
            prev = None
            if item.cells is None:
                w.write(join_boxes(item.boxes)[0] + "\n")
                in_free_table = False
                continue
            if not in_free_table:
                table_no, row_no = table_no + 1, 0
            _write_cells_line(w, item.cells, page.number, table_no, row_no)
            row_no += 1
            in_free_table = True
    infos = [PageInfo(p.number, p.width, p.height, p.unit, p.ocr) for p in pages]
    return w.text(), w.rows, infos


def _write_cells_line(w: _Writer, parts: list[list[TextBox]], page: int, table: int, row: int) -> None:
    start = w.pos
    cells: list[GridCell] = []
    for col, part in enumerate(parts):
        if col:
            w.write("\t")
        text, conf = join_boxes(part)
        s, e = w.write(text)
        bbox = (
            min(b.bbox[0] for b in part),
            min(b.bbox[1] for b in part),
            max(b.bbox[2] for b in part),
            max(b.bbox[3] for b in part),
        )
        cells.append(GridCell(s, e, text, col, page=page, bbox=bbox, confidence=conf))
    w.rows.append(GridRow(tuple(cells), start, w.pos, table, row))
    w.write("\n")


def _write_table(w: _Writer, table: LayoutTable, page: int, table_no: int, row_no: int) -> int:
    by_row: dict[int, list[LayoutCell]] = {}
    for c in table.cells:
        by_row.setdefault(c.row, []).append(c)
    for r in range(table.rows):
        cells = sorted(by_row.get(r, []), key=lambda c: c.col)
        start = w.pos
        grid: list[GridCell] = []
        for i, c in enumerate(cells):
            if i:
                w.write("\t")
            s, e = w.write(c.text)
            grid.append(
                GridCell(s, e, c.text, c.col, c.colspan, c.rowspan, page=page, bbox=c.bbox, confidence=c.confidence)
            )
        w.rows.append(GridRow(tuple(grid), start, w.pos, table_no, row_no))
        w.write("\n")
        row_no += 1
    return row_no
