"""Scans and images → NormalisedDoc with RapidOCR (Chinese PP-OCR models bundled in its wheel).

A page image is prepared (prepare_page: red seal removed, turned upright, deskewed, a two-page spread
split), its text lines recognised, and the table grid rebuilt from the ruling lines found in the image
(raster.ruling_edges) with the same code that builds grids from PDF rulings (layout.py); a page without
rulings falls back to clustering text boxes into rows and cells. Every cell keeps its bbox in pixels of
the prepared image and the lowest recognition confidence of its text.

The engine is created once per process with an explicit onnxruntime thread count (GOUJI_OCR_THREADS,
default 1): one thread ran at a steady ~6 s per A4 page at 300 dpi, default threading varied 4–16 s
and starves the other workers on the machine. Recognition pads crops to REC_MIN_WIDTH, not 320.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np

from gouji.worker.errors import InputError
from gouji.worker.read.document import NormalisedDoc
from gouji.worker.read.layout import PageLayout, TextBox, assemble, build_table, edge, page_items, table_regions
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions
from gouji.worker.read.raster import (
    RGB,
    load_images,
    normalise_scale,
    quarter_turns,
    remove_red,
    rotate,
    ruling_edges,
    skew_angle,
    split_spread,
)

# Recognition pads every batch of text-line crops to at least this width (pixels at the model's 48-pixel
# height). RapidOCR's default is 320, so a lone digit of a table cell was recognised as a 320-pixel-wide
# line, mostly padding: ~2/3 of all recognition time on a table page. Less padding changes what the model
# sees: at 48 and 96 lone "0"s of degraded scans and photos came back empty; 160 read them as 320 did.
REC_MIN_WIDTH = 160

_engine: Any = None
_engine_lock = threading.Lock()

# OCR misreads of digits inside a number-like run ("1O" → "10", "l2" → "12"), applied only to runs that
# are otherwise a number: labels keep their letters.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "，": ",", "。": "."})
_NUMBERISH = re.compile(r"^[0-9OoDlI|,，.。]+$")


def engine(threads: int = 1) -> Any:
    """The process's RapidOCR engine (created on first use, with `threads`; loading the models takes about
    a second)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import cv2
            from rapidocr import RapidOCR

            cv2.setNumThreads(1)  # OpenCV's own thread pool competes with the OCR thread for the same core

            _engine = RapidOCR(
                params={
                    "Global.log_level": "error",
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
                }
            )
        return _engine


def _box_extent(poly: Any) -> tuple[float, float, float, float]:
    pts = np.asarray(poly, dtype=np.float64)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def orientation(img: RGB, threads: int = 1) -> int:
    """Clockwise quarter turns that make the page upright (0–3).

    Text detection on a reduced page tells horizontal from vertical writing by the long boxes (lines of
    labels; single digits are square and say nothing); the direction classifier on the longest boxes
    then tells upright from upside down.
    """
    import cv2

    f = 1200 / max(img.shape[:2])
    small = np.asarray(cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    eng = engine(threads)
    turns = 0
    boxes = eng(small, use_det=True, use_cls=False, use_rec=False).boxes
    if boxes is None:
        return 0
    ext = [_box_extent(b) for b in boxes]
    wide = sum(x1 - x0 for x0, y0, x1, y1 in ext if x1 - x0 > 2 * (y1 - y0))
    tall = sum(y1 - y0 for x0, y0, x1, y1 in ext if y1 - y0 > 2 * (x1 - x0))
    if tall > wide:
        turns = 1
        small = quarter_turns(small, 1)
        boxes = eng(small, use_det=True, use_cls=False, use_rec=False).boxes
        if boxes is None:
            return turns
        ext = [_box_extent(b) for b in boxes]
    longest = sorted((e for e in ext if e[2] - e[0] > 2 * (e[3] - e[1])), key=lambda e: e[0] - e[2])[:15]
    flipped = 0
    for x0, y0, x1, y1 in longest:
        crop = small[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1]
        res = eng(crop, use_det=False, use_cls=True, use_rec=False)
        if res.cls_res and res.cls_res[0][0] == "180":
            flipped += 1
    if longest and flipped * 2 > len(longest):
        turns += 2
    return turns % 4


def prepare_page(img: RGB, threads: int = 1) -> list[RGB]:
    """The page(s) OCR reads from one page image: seal removed, upright, deskewed, spreads split.

    pages.page_image repeats exactly this, so bboxes found on these images fit the picture shown.
    """
    img = remove_red(normalise_scale(img))
    img = quarter_turns(img, orientation(img, threads))
    img = rotate(img, skew_angle(img))
    return split_spread(img)


def _clean(text: str) -> str:
    t = text.strip()
    if _NUMBERISH.match(t) and (any(ch.isdigit() for ch in t) or len(t) == 1):
        return t.translate(_DIGIT_LOOKALIKES)
    return t


def ocr_image(img: RGB, number: int, threads: int = 1) -> PageLayout:
    """One prepared page image → its layout (bbox unit: pixels of `img`)."""
    # The page is already upright: the per-line direction classifier would only turn a lone 9 into a 6.
    # (Flags persist in the engine between calls, so all three are always passed.)
    res = engine(threads)(img, use_det=True, use_cls=False, use_rec=True)
    boxes: list[TextBox] = []
    if res.boxes is not None and res.txts is not None:
        for poly, text, score in zip(res.boxes, res.txts, res.scores, strict=True):
            if text.strip():
                boxes.append(TextBox(_clean(text), _box_extent(poly), float(score)))
    h, w = img.shape[:2]
    tolerance = max(w / 250, 4.0)  # ~10 px at 300 dpi: the two strokes of one ruling in a scan
    edges = [edge(*e) for e in ruling_edges(img)]
    tables = [build_table(r, boxes, tolerance) for r in table_regions(edges, tolerance, w / 50)]
    tables = [t for t in tables if len(t.columns) > 2]
    return PageLayout(number, float(w), float(h), "px", page_items(boxes, tables), ocr=True)


def ocr_pages(img: RGB, first: int, threads: int = 1) -> list[PageLayout]:
    """OCR of one scanned page (or spread) numbered from `first`."""
    return [ocr_image(p, first + i, threads) for i, p in enumerate(prepare_page(img, threads))]


def read_image(data: bytes, path: str, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    pages: list[PageLayout] = []
    for frame in load_images(data, path):
        pages += ocr_pages(frame, len(pages) + 1, options.ocr_threads)
    text, rows, infos = assemble(pages)
    if not text.strip():
        raise InputError(path, "no text found in the image (blank page or not a document)")
    return NormalisedDoc.of(data, path, text, None, _media_type(data), "ocr_cell", rows, infos)


def _media_type(data: bytes) -> str:
    for magic, kind in ((b"\x89PNG", "png"), (b"\xff\xd8", "jpeg"), (b"II*", "tiff"), (b"MM\x00*", "tiff")):
        if data.startswith(magic):
            return f"image/{kind}"
    return "image/x-unknown"
