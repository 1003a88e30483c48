"""PDF → NormalisedDoc: tables from the text layer's ruling lines, image-only pages through OCR.

Reports are mostly exported from Word, so their tables are drawn with ruling lines and every cell is a
rectangle: pdfplumber's words are placed into those rectangles (layout.py), which keeps empty cells,
merged header cells and the one-character-per-line vertical labels that `pdftotext` scrambles. Filled
rectangles without a stroke are paragraph backgrounds (Word's shading), not rulings, and are ignored. A
page with no characters but an image is a scan and goes to OCR (ocr.py) at `OCR_DPI`.

pypdfium2 opens the file first: it tells a truncated file, an encrypted one and an empty one apart
with messages a user can act on, before pdfminer's less specific errors could.
"""

from __future__ import annotations

import io
from typing import Any

import pdfplumber
import pypdfium2 as pdfium

from gouji.schemas.cells import Method
from gouji.worker.errors import InputError
from gouji.worker.read.document import NormalisedDoc
from gouji.worker.read.layout import PageLayout, TextBox, assemble, build_table, edge, page_items, table_regions
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions

OCR_DPI = 300
TOLERANCE = 3.0  # points: ruling lines this close are one line
MIN_RULE = 8.0  # points: shorter strokes are underlines or glyph parts, not table rulings


def open_pdfium(data: bytes, path: str) -> pdfium.PdfDocument:
    """The PDF opened by pdfium, or an InputError saying what is wrong with the file."""
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        # pdfium's error code is process-global state (it can still name an earlier file's problem), so
        # the file itself is asked: an /Encrypt dictionary, or a page tree pdfminer can read but is empty.
        if b"/Encrypt" in data:
            raise InputError(path, "PDF is encrypted (password-protected); supply an unprotected copy") from None
        if _page_count(data) == 0:
            raise InputError(path, "PDF has no pages") from None
        raise InputError(path, f"PDF is truncated or corrupt and cannot be opened ({e})") from None
    if len(doc) == 0:
        raise InputError(path, "PDF has no pages")
    return doc


def _page_count(data: bytes) -> int | None:
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return len(pdf.pages)
    except Exception:  # pdfminer raises many unrelated types for damaged files
        return None


def _ruling(obj: dict[str, Any]) -> bool:
    """Stroked lines and rectangles, and thin filled bars (how some writers draw rules), but no shading."""
    if obj["object_type"] == "line":
        return True
    if obj["object_type"] != "rect":
        return False
    return bool(obj.get("stroke")) or min(obj["width"], obj["height"]) <= 2


def is_scanned(page: Any) -> bool:
    """An image-only page: no characters in the text layer, but an image to read them from."""
    return not page.chars and bool(page.images)


def text_page(page: Any, number: int) -> PageLayout:
    """A page with a text layer: ruled tables as grids, the rest as lines."""
    words = page.extract_words(x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False, use_text_flow=False)
    boxes = [TextBox(w["text"], (w["x0"], w["top"], w["x1"], w["bottom"])) for w in words]
    edges = []
    for obj in (*page.lines, *page.rects):
        if _ruling(obj):
            if obj["object_type"] == "line" or min(obj["width"], obj["height"]) <= 2:
                edges.append(edge(obj["x0"], obj["top"], obj["x1"], obj["bottom"]))
            else:  # a stroked rectangle: its four sides
                x0, t, x1, b = obj["x0"], obj["top"], obj["x1"], obj["bottom"]
                edges += [edge(x0, t, x1, t), edge(x0, b, x1, b), edge(x0, t, x0, b), edge(x1, t, x1, b)]
    tables = [build_table(r, boxes, TOLERANCE) for r in table_regions(edges, TOLERANCE, MIN_RULE)]
    tables = [t for t in tables if len(t.columns) > 2]  # a one-column "table" is a framed paragraph
    return PageLayout(number, float(page.width), float(page.height), "pt", page_items(boxes, tables))


def read_pdf(data: bytes, path: str, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    doc = open_pdfium(data, path)
    pages: list[PageLayout] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for i, page in enumerate(pdf.pages):
                if not is_scanned(page):
                    pages.append(text_page(page, len(pages) + 1))
                    continue
                from gouji.worker.read.ocr import ocr_pages  # only scans pay for loading the OCR models
                from gouji.worker.read.raster import render_pdf_page

                pages += ocr_pages(render_pdf_page(doc, i, OCR_DPI), len(pages) + 1, options.ocr_threads)
    except InputError:
        raise
    except Exception as e:  # pdfminer's errors have no common base; any of them means a damaged file
        raise InputError(path, f"PDF cannot be read ({type(e).__name__}: {e})") from None
    finally:
        doc.close()
    text, rows, infos = assemble(pages)
    if not text.strip():
        raise InputError(path, "PDF has no text layer and no page image to read")
    method: Method = "ocr_cell" if any(p.ocr for p in pages) else "pdf_layout"
    return NormalisedDoc.of(data, path, text, None, "application/pdf", method, rows, infos)
