"""Page images for OCR: loading, rendering, red-seal removal, deskew, ruling-line detection, splitting.

Everything here is deterministic image arithmetic (OpenCV/Pillow), so the review UI can repeat exactly
what OCR saw (pages.py) and a bbox found by OCR lands on the same pixels there. Orientation by 90/180°
needs the text models and lives in ocr.py.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
from numpy.typing import NDArray
from PIL import Image, ImageSequence, UnidentifiedImageError

from gouji.worker.errors import InputError

Image.MAX_IMAGE_PIXELS = 200_000_000  # a 600 dpi A3 scan is ~70 Mpx; beyond this is not a report page
RGB = NDArray[np.uint8]
A4_LONG_SIDE_300DPI = 3508


def load_images(data: bytes, path: str) -> list[RGB]:
    """Every frame of an image file (multi-page TIFF) as RGB, or an InputError naming the problem."""
    try:
        img = Image.open(io.BytesIO(data))
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(img)]
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise InputError(path, f"image is unreadable (damaged or not an image: {e})") from None
    if not frames or min(frames[0].shape[:2]) < 32:
        raise InputError(path, "image is unreadable (too small to hold a page)")
    return frames


def render_pdf_page(doc: pdfium.PdfDocument, index: int, dpi: int) -> RGB:
    bitmap = doc[index].render(scale=dpi / 72)
    return np.asarray(bitmap.to_pil().convert("RGB"))


def normalise_scale(img: RGB) -> RGB:
    """Photos and low-resolution scans scaled so an A4 page is about 300 dpi, the size the OCR models read
    best; pages already that large are left alone."""
    long_side = max(img.shape[:2])
    if long_side >= 0.7 * A4_LONG_SIDE_300DPI:
        return img
    f = A4_LONG_SIDE_300DPI / long_side
    return np.asarray(cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def remove_red(img: RGB) -> RGB:
    """Red ink (official seals over a table) dropped out the way a scanner's red filter does it.

    Seals cover digits and rulings and draw false ones. Where the ink is red (and a 2-pixel fringe of
    anti-aliased pink around it) the pixel becomes the grey of its red channel, scaled so the seal over
    bare paper turns white: red ink over paper is nearly white in the red channel, while black print
    under the seal stays dark there. Painting red pixels plain white instead would cut every ruling and
    digit stroke the seal crosses (a broken ruling loses its table cells, and their numbers with them).
    Black and grey text outside the seal is untouched.
    """
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((h < 12) | (h > 165)) & (s > 60) & (v > 90)
    if not red.any():
        return img
    # The seal over bare paper in the red channel (the bulk of the red pixels; overlaps are the few),
    # and the paper around the seal, which that level becomes.
    level = float(np.clip(np.median(img[..., 0][red]), 96, 255))
    kernel = np.ones((5, 5), np.uint8)
    zone = cv2.dilate(red.astype(np.uint8), kernel)
    band = cv2.dilate(zone, kernel, iterations=2).astype(bool) & ~zone.astype(bool)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    paper = float(np.median(gray[band])) if band.any() else 255.0
    inside = zone.astype(bool)
    ratio = img[..., 0][inside].astype(np.float32) / level
    # Within 0.9 of the seal's level is seal (or its pink fringe) over paper; print under the seal is far
    # darker in the red channel (0.55–0.8 of the level) and is kept dark.
    grey = (paper * np.clip(ratio / 0.9, 0, 1) ** 3).astype(np.uint8)
    out = img.copy()
    out[inside] = grey[:, None]
    return out


def binarise(gray: NDArray[Any]) -> NDArray[np.uint8]:
    """Ink = 255 on 0, adaptive so shading, uneven light (photos) and JPEG noise do not matter."""
    return np.asarray(
        cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15), dtype=np.uint8
    )


def skew_angle(img: RGB) -> float:
    """Skew in degrees (counter-clockwise positive) from the projection profile of the ink.

    Text lines and rulings both make the row profile sharpest when horizontal; searched in ±3° on a
    reduced image, coarse then fine.
    """
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    f = 1000 / max(gray.shape)
    small = binarise(cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA))
    h, w = small.shape
    centre = (w / 2, h / 2)

    def sharpness(angle: float) -> float:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rotated = cv2.warpAffine(small, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        profile = rotated.sum(axis=1, dtype=np.float64)
        return float(np.var(profile))

    best = max(np.arange(-3.0, 3.01, 0.25), key=sharpness)
    best = max(np.arange(best - 0.25, best + 0.26, 0.05), key=sharpness)
    return float(round(best, 2))


def rotate(img: RGB, angle: float) -> RGB:
    """`img` rotated by `angle` degrees (counter-clockwise) about its centre, corners filled white."""
    if abs(angle) < 0.05:
        return img
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return np.asarray(
        cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)), dtype=np.uint8
    )


def quarter_turns(img: RGB, turns: int) -> RGB:
    """Rotated by 90° clockwise `turns` times."""
    return np.ascontiguousarray(np.rot90(img, k=-turns % 4))


def split_spread(img: RGB) -> list[RGB]:
    """Two pages scanned on one landscape sheet → the two pages; anything else → [img].

    A spread is wider than tall and has an empty vertical gutter in its middle third.
    """
    h, w = img.shape[:2]
    if w < 1.2 * h:
        return [img]
    ink = binarise(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    cols = ink.sum(axis=0, dtype=np.float64) / 255
    lo, hi = w // 3, 2 * w // 3
    band = max(w // 100, 5)
    smooth = np.convolve(cols, np.ones(band) / band, mode="same")
    gutter = lo + int(np.argmin(smooth[lo:hi]))
    if smooth[gutter] > 0.002 * h:  # ink in the gutter: one wide page (a landscape table), not two
        return [img]
    left, right = img[:, :gutter], img[:, gutter:]
    return [p for p in (left, right) if binarise(cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)).mean() > 0.5]


def ruling_edges(img: RGB) -> list[tuple[float, float, float, float]]:
    """Boxes (x0, top, x1, bottom) of straight horizontal and vertical rulings in a deskewed page.

    Morphological opening with long thin kernels keeps only runs of ink longer than any glyph stroke;
    small gaps (broken lines of a poor scan) are closed first.
    """
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    ink = binarise(gray)
    h, w = ink.shape
    out: list[tuple[float, float, float, float]] = []
    for kernel, close in (((max(w // 25, 20), 1), (9, 1)), ((1, max(h // 60, 20)), (1, 9))):
        closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, close))
        lines = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        n, _, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            out.append((float(x), float(y), float(x + bw), float(y + bh)))
    return out + _closing_rules(out, max(w / 250, 4.0))


def _closing_rules(
    edges: list[tuple[float, float, float, float]], tolerance: float
) -> list[tuple[float, float, float, float]]:
    """Horizontal rules where ≥ 3 vertical rules end together but no rule is drawn: a table continued
    on the next page often has no closing line, and without it its last row would fall out of the grid."""
    vertical = [e for e in edges if e[3] - e[1] > e[2] - e[0]]
    horizontal = [e for e in edges if e[3] - e[1] <= e[2] - e[0]]
    out: list[tuple[float, float, float, float]] = []
    for end in (1, 3):  # tops, bottoms
        ys = sorted(vertical, key=lambda e: e[end])
        group: list[tuple[float, float, float, float]] = []
        for e in [*ys, None]:
            if e is not None and (not group or e[end] - group[-1][end] <= tolerance):
                group.append(e)
                continue
            if len(group) >= 3:
                y = float(np.median([g[end] for g in group]))
                x0, x1 = min(g[0] for g in group), max(g[2] for g in group)
                if not any(abs((h[1] + h[3]) / 2 - y) <= tolerance and h[0] <= x0 + tolerance for h in horizontal):
                    out.append((x0, y - 1, x1, y + 1))
            group = [e] if e is not None else []
    return out


def to_png(img: RGB | Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
