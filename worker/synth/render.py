"""Synthetic reports as the files agencies publish: text PDF, Word, and scans with the noise of paper.

One table model (grids of merged cells, like the Word original of a real report) is drawn with
reportlab into a text PDF, written with python-docx into a .docx, and the PDF's pages are rendered and
degraded into scans: rotation up to 2°, blur, JPEG artefacts, a red seal over table 三, and for
"photo" uneven light as well. All randomness comes from the caller's seeded `random.Random`, so a seed
gives the same bytes (reportlab's document id and dates are fixed by `invariant`).

reportlab cannot embed the CFF-based Noto CJK .ttc fonts; WenQuanYi Micro Hei (Debian
fonts-wqy-microhei) is TrueType inside its .ttc and embeds fine.
"""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from gouji.schemas.template import C7, T4_GROUPS, T4_LEAVES, TABLE2, Version, table3_rows
from gouji.worker.errors import ConfigError
from gouji.worker.synth.kinds import ScanKind

Number = int | Decimal
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
INSTALL_FONT = "install a CJK TrueType font: apt-get install fonts-wqy-microhei (or set GOUJI_CJK_FONT)"


@dataclass(frozen=True)
class Slot:
    text: str
    colspan: int = 1
    rowspan: int = 1


Grid = list[list[Slot | None]]  # None: covered by a merged cell above or to the left


def font_path(preferred: str = "") -> str:
    """`preferred` (GOUJI_CJK_FONT) if given, else the first WenQuanYi font installed."""
    if preferred:
        if Path(preferred).is_file():
            return preferred
        raise ConfigError(f"GOUJI_CJK_FONT: no font file at {preferred}")
    for p in FONT_CANDIDATES:
        if Path(p).is_file():
            return p
    raise ConfigError(f"no CJK font for rendering PDFs; {INSTALL_FONT}")


def _fmt(v: Number) -> str:
    return format(v, "f") if isinstance(v, Decimal) else str(v)


def _row(*slots: Slot, width: int) -> list[Slot | None]:
    out: list[Slot | None] = []
    for s in slots:
        out.append(s)
        out += [None] * (s.colspan - 1)
    return out + [None] * (width - len(out))


def tables(values: dict[str, Number], version: Version) -> list[tuple[str, Grid]]:
    """(heading, grid) of tables 二, 三 and 四 with the template's merged header cells."""
    t2: Grid = []
    for block in TABLE2[version]:
        n = len(block.columns)
        t2.append(_row(Slot(block.caption, 4), width=4))
        last = Slot(block.columns[-1].label, 4 - n)
        t2.append(_row(Slot("信息内容"), *(Slot(c.label) for c in block.columns[:-1]), last, width=4))
        for r in block.rows:
            cells = [_fmt(values[f"active_disclosure.{block.key}.{r.key}.{c.key}"]) for c in block.columns]
            t2.append(_row(Slot(r.label), *(Slot(c) for c in cells[:-1]), Slot(cells[-1], 4 - n), width=4))
    head = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
    t3: Grid = [
        [Slot(head, 3, 3), None, None, Slot("申请人情况", 7), None, None, None, None, None, None],
        [None, None, None, Slot("自然人", 1, 2), Slot("法人或其他组织", 5), None, None, None, None, Slot("总计", 1, 2)],
        [
            None,
            None,
            None,
            None,
            *(Slot(h) for h in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")),
            None,
        ],
    ]
    for r in table3_rows(version):
        t3.append(_row(Slot(r.label, 3), *(Slot(_fmt(values[f"applications.{r.key}.{c}"])) for c in C7), width=10))
    leaves = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
    t4: Grid = [
        _row(Slot("行政复议", 5), Slot("行政诉讼", 10), width=15),
        [
            *(Slot(h, 1, 2) for h in leaves),
            Slot("未经复议直接起诉", 5),
            None,
            None,
            None,
            None,
            Slot("复议后起诉", 5),
            None,
            None,
            None,
            None,
        ],
        [None] * 5 + [Slot(h) for h in leaves * 2],
        [Slot(_fmt(values[f"review_litigation.{g}.{leaf}"])) for g, _ in T4_GROUPS for leaf, _ in T4_LEAVES],
    ]
    return [
        ("二、主动公开政府信息情况", t2),
        ("三、收到和处理政府信息公开申请情况", t3),
        ("四、政府信息公开行政复议、行政诉讼情况", t4),
    ]


def _widths(total: float, n: int) -> list[float]:
    if n == 10:  # table 三: labels take the first three columns
        return [total * 0.13, total * 0.13, total * 0.14] + [total * 0.6 / 7] * 7
    if n == 4:
        return [total * 0.34] + [total * 0.22] * 3
    return [total / n] * n


def render_pdf(prose: Sequence[str], grids: list[tuple[str, Grid]], closing: Sequence[str], font: str = "") -> bytes:
    """A text PDF like a Word export: prose paragraphs, ruled tables with merged cells, page numbers."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if "CJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("CJK", font_path(font), subfontIndex=0))
    body = ParagraphStyle("body", fontName="CJK", fontSize=10.5, leading=15, wordWrap="CJK")
    cell = ParagraphStyle("cell", fontName="CJK", fontSize=8, leading=10, wordWrap="CJK", alignment=1)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=56, rightMargin=56, topMargin=56, bottomMargin=56, invariant=True
    )
    width = A4[0] - 112
    story: list[object] = [Paragraph(p, body) for p in prose]
    for heading, grid in grids:
        data = [[Paragraph(s.text, cell) if s else "" for s in row] for row in grid]
        style = [
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ]
        for i, row in enumerate(grid):
            for j, s in enumerate(row):
                if s and (s.colspan > 1 or s.rowspan > 1):
                    style.append(("SPAN", (j, i), (j + s.colspan - 1, i + s.rowspan - 1)))
        story += [Spacer(1, 6), Paragraph(heading, body), Spacer(1, 4)]
        story.append(Table(data, colWidths=_widths(width, len(grid[0])), style=TableStyle(style), repeatRows=0))
    story += [Spacer(1, 6), *(Paragraph(p, body) for p in closing)]

    def page_number(canvas: object, d: object) -> None:
        canvas.setFont("CJK", 10)  # type: ignore[attr-defined]
        canvas.drawCentredString(A4[0] / 2, 30, f"- {d.page} -")  # type: ignore[attr-defined]

    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buf.getvalue()


def render_docx(prose: Sequence[str], grids: list[tuple[str, Grid]], closing: Sequence[str]) -> bytes:
    """A Word document with real merged cells (gridSpan / vMerge), as agencies write the report."""
    import docx

    d = docx.Document()
    for p in prose:
        d.add_paragraph(p)
    for heading, grid in grids:
        d.add_paragraph(heading)
        table = d.add_table(rows=len(grid), cols=len(grid[0]))
        table.style = "Table Grid"
        for i, row in enumerate(grid):
            for j, s in enumerate(row):
                if s is None:
                    continue
                target = table.cell(i, j)
                if s.colspan > 1 or s.rowspan > 1:
                    target = target.merge(table.cell(i + s.rowspan - 1, j + s.colspan - 1))
                target.text = s.text
    for p in closing:
        d.add_paragraph(p)
    d.core_properties.created = d.core_properties.modified = datetime(2000, 1, 1)
    buf = io.BytesIO()
    d.save(buf)
    return _fixed_zip_times(buf.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The package re-zipped with one fixed timestamp (python-docx stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            dst.writestr(fixed, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _seal(rng: random.Random, size: int, font_file: str) -> Image.Image:
    """A red official seal (ring, star, agency text) on transparency, as stamped over a table."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    red = (220, 30, 40, rng.randint(150, 210))
    w = max(size // 28, 3)
    draw.ellipse((w, w, size - w, size - w), outline=red, width=w)
    c, r = size / 2, size * 0.14
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.4
        a = np.pi / 2 + k * np.pi / 5
        pts.append((c + rad * np.cos(a), c - rad * np.sin(a)))
    draw.polygon(pts, fill=red)
    font = ImageFont.truetype(font_path(font_file), size // 9)
    draw.text((size * 0.22, size * 0.62), "政务公开专用章", fill=red, font=font)
    return img.rotate(rng.uniform(-30, 30), resample=Image.Resampling.BICUBIC)


def degrade(page: Image.Image, rng: random.Random, kind: ScanKind, seal: bool, font: str = "") -> Image.Image:
    """A rendered page as a scanner or phone would deliver it."""
    img = page.convert("RGB")
    w, h = img.size
    if seal:
        s = _seal(rng, int(w * 0.26), font)
        img.paste(s, (int(w * rng.uniform(0.45, 0.65)), int(h * rng.uniform(0.35, 0.6))), s)
    img = img.rotate(rng.uniform(-2, 2), resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255), expand=False)
    blur = {"scan300": 0.6, "scan200": 0.5, "degraded": 1.1, "photo": 0.9}[kind]
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.0) * blur))
    arr = np.asarray(img, dtype=np.float32)
    if kind in ("degraded", "photo"):
        nrng = np.random.default_rng(rng.randrange(2**32))
        arr = arr + nrng.normal(0, 9 if kind == "degraded" else 5, arr.shape).astype(np.float32)
    if kind == "photo":  # light falling off from one corner, a grey-yellow paper tone
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        shade = 1 - 0.3 * ((xx / w) * rng.uniform(0.3, 1) + (yy / h) * rng.uniform(0.3, 1)) / 2
        arr = (arr * shade[..., None] * np.array([0.97, 0.95, 0.88], dtype=np.float32)).astype(np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    quality = {"scan300": 70, "scan200": 60, "degraded": 35, "photo": 50}[kind]
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def render_scan(pdf: bytes, rng: random.Random, kind: ScanKind, font: str = "") -> tuple[bytes, str]:
    """The text PDF printed and scanned: an image-only PDF (scans) or a multi-page TIFF (photo)."""
    import pypdfium2 as pdfium

    dpi = 200 if kind == "scan200" else 300
    if kind == "photo":
        dpi = 150  # a phone photo of a page: lower resolution than any scanner
    doc = pdfium.PdfDocument(pdf)
    pages = []
    for i in range(len(doc)):
        page = doc[i].render(scale=dpi / 72).to_pil()
        pages.append(degrade(page, rng, kind, seal=i == 1 or len(doc) == 1, font=font))
    doc.close()
    buf = io.BytesIO()
    if kind == "photo":
        pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], compression="jpeg", quality=60)
        return buf.getvalue(), ".tif"
    fixed = time.gmtime(0)  # Pillow stamps the current time otherwise; a seed must give the same bytes
    pages[0].save(
        buf, "PDF", save_all=True, append_images=pages[1:], resolution=float(dpi), creationDate=fixed, modDate=fixed
    )
    return buf.getvalue(), ".pdf"
