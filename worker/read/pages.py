"""Page pictures for the review UI: one page of a PDF or image input as PNG, and the crop of one cell.

Page numbers and bboxes are those of the cells (GridCell / Prov): `page` counts the pages read, a
two-page spread split by OCR counting as two. The picture is in the cell's frame:
- text-layer PDF pages are rendered as they are; bboxes are PDF points, so pixel = point × dpi / 72;
- OCR pages (scans, images) are prepared exactly as OCR prepared them (seal removed, turned upright,
  deskewed, spread split) and scaled by dpi / 300; bboxes are pixels of the 300-dpi-equivalent image, so
  pixel = bbox × dpi / 300.
Pure functions of the file's bytes (no database), so the API can serve them from the stored document.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from gouji.worker.errors import InputError
from gouji.worker.read.decode import sniff_binary
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions
from gouji.worker.read.raster import RGB, load_images, render_pdf_page, to_png

OCR_DPI = 300


def _pages(data: bytes, path: str, dpi: int, threads: int) -> Iterator[tuple[RGB, bool]]:
    """(picture, read by OCR) for each page read, in the readers' order; text pages rendered at `dpi`,
    OCR pages as prepared at 300 dpi."""
    from gouji.worker.read.ocr import prepare_page

    kind = sniff_binary(data) or ""
    if kind == "PDF":
        import io

        import pdfplumber

        from gouji.worker.read.pdf import is_scanned, open_pdfium

        doc = open_pdfium(data, path)
        try:
            with pdfplumber.open(io.BytesIO(data)) as pdf:
                for i, page in enumerate(pdf.pages):
                    if not is_scanned(page):
                        yield render_pdf_page(doc, i, dpi), False
                        continue
                    for p in prepare_page(render_pdf_page(doc, i, OCR_DPI), threads):
                        yield p, True
        finally:
            doc.close()
    elif kind.endswith(" image"):
        for frame in load_images(data, path):
            yield from ((p, True) for p in prepare_page(frame, threads))
    else:
        raise InputError(path, "has no pages to show (not a PDF or image)")


def _page(data: bytes, path: str, page: int, dpi: int, threads: int) -> tuple[RGB, float]:
    """The page's picture and the factor from its bbox units to the picture's pixels."""
    for n, (img, ocr) in enumerate(_pages(data, path, dpi, threads), start=1):
        if n != page:
            continue
        if not ocr:
            return img, dpi / 72
        f = dpi / OCR_DPI
        if f != 1:
            img = np.asarray(cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        return img, f
    raise InputError(path, f"has no page {page}")


def page_image(data: bytes, path: str, page: int, dpi: int = 150, options: ReadOptions = DEFAULT_OPTIONS) -> bytes:
    """PNG of page `page` (1-based) at `dpi`, in the frame its cells' bboxes refer to (see module doc)."""
    return to_png(_page(data, path, page, dpi, options.ocr_threads)[0])


def cell_crop(
    data: bytes,
    path: str,
    page: int,
    bbox: tuple[float, float, float, float] | list[float],
    dpi: int = 150,
    options: ReadOptions = DEFAULT_OPTIONS,
) -> bytes:
    """PNG of one cell's box on its page (with a small margin), for the review queue."""
    img, scale = _page(data, path, page, dpi, options.ocr_threads)
    h, w = img.shape[:2]
    margin = 4
    x0, y0, x1, y1 = (round(v * scale) for v in bbox)
    crop = img[max(y0 - margin, 0) : min(y1 + margin, h), max(x0 - margin, 0) : min(x1 + margin, w)]
    if crop.size == 0:
        raise InputError(path, f"bbox {list(bbox)} lies outside page {page}")
    return to_png(crop)
