"""Entry point of normalisation: any supported file → NormalisedDoc (see document.py).

Dispatch trusts content over names: reports are saved from browsers and chat apps under whatever
extension, so a ".txt" holding a web page is read as HTML, and a PDF is read as a PDF whatever it is
called. Binary formats are recognised by their magic bytes: PDF, images (PNG/JPEG/TIFF/BMP/WebP/GIF →
OCR), DOCX (a ZIP holding word/document.xml), legacy Word/WPS and RTF (through LibreOffice).
"""

from __future__ import annotations

import io
import os
import pathlib
import zipfile
from collections.abc import Callable

from gouji.worker.errors import InputError
from gouji.worker.read.decode import decode_bytes, sniff_binary
from gouji.worker.read.document import CompactView, GridCell, GridRow, NormalisedDoc, PageInfo
from gouji.worker.read.html import read_html
from gouji.worker.read.markdown import read_markdown
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions
from gouji.worker.read.text import read_text

__all__ = [
    "CompactView",
    "GridCell",
    "GridRow",
    "InputError",
    "NormalisedDoc",
    "PageInfo",
    "ReadOptions",
    "decode_bytes",
    "read_bytes",
    "read_document",
    "read_html",
    "read_markdown",
    "read_text",
]

Reader = Callable[[bytes, str], NormalisedDoc]
BinaryReader = Callable[[bytes, str, ReadOptions], NormalisedDoc]

_BY_EXTENSION: dict[str, Reader] = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    # Chinese government sites serve pages as .shtml/.jhtml; saved pages keep those names.
    **dict.fromkeys((".html", ".htm", ".xhtml", ".shtml", ".jhtml"), read_html),
}
# Names that promise a binary format: if the content is not recognised as one, say so rather than
# decoding it as text.
_BINARY_EXTENSIONS = {
    ".pdf": "PDF",
    ".doc": "Word",
    ".docx": "Word",
    ".wps": "WPS",
    ".ofd": "OFD",
    ".xls": "Excel",
    ".xlsx": "Excel",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp"), "image"),
}
_UNSUPPORTED = "input is not supported; supply a PDF, Word, image, .txt, .md or .html version"


def _zip_kind(data: bytes) -> str:
    """ "docx" for a Word document, else the ZIP-based format's name for the error message."""
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError):
        return "damaged ZIP/Office file"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "Excel (XLSX)"
    if "OFD.xml" in names:
        return "OFD"
    return "ZIP archive"


def _binary_reader(kind: str, data: bytes) -> BinaryReader | None:
    """The reader for a sniffed binary format (imported lazily: PDF/OCR libraries are heavy)."""
    if kind == "PDF":
        from gouji.worker.read.pdf import read_pdf

        return read_pdf
    if kind.endswith(" image"):
        from gouji.worker.read.ocr import read_image

        return read_image
    if kind.startswith("ZIP/Office") and _zip_kind(data) == "docx":
        from gouji.worker.read.docx import read_docx

        return read_docx
    if kind.startswith("legacy Word") or kind == "RTF":
        from gouji.worker.read.office import read_legacy_word

        return read_legacy_word
    return None


def looks_like_html(data: bytes) -> bool:
    """True if the file opens like a web page (<!doctype html>, <html>), after BOM, comments, <?xml?>."""
    head = data[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:64]:
        le = head.startswith(b"\xff\xfe") or head[1:2] == b"\x00"
        s = head.decode("utf-16-le" if le else "utf-16-be", errors="ignore")
    else:
        s = head.decode("latin-1")
    s = s.lstrip("\ufeff\xef\xbb\xbf \t\r\n").lower()
    while s.startswith(("<!--", "<?xml")):  # "<!-- saved from url=... -->" (IE), XHTML declarations
        end = s.find("-->" if s.startswith("<!--") else "?>")
        if end < 0:
            return False
        s = s[end + 3 if s.startswith("<!--") else end + 2 :].lstrip()
    return s.startswith(("<!doctype html", "<html"))


def read_bytes(data: bytes, path: str, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    """Normalise `data`; `path` (or an upload's file name) picks the reader and names it in errors."""
    if not data:
        raise InputError(path, "empty file")
    kind = sniff_binary(data)
    ext = os.path.splitext(path)[1].lower()
    if kind is not None:
        reader = _binary_reader(kind, data)
        if reader is not None:
            return reader(data, path, options)
        if kind.startswith("ZIP/Office"):
            kind = _zip_kind(data)
        raise InputError(path, f"{kind} {_UNSUPPORTED}")
    if ext in _BINARY_EXTENSIONS:
        raise InputError(
            path, f"named {ext} but the content is not a {_BINARY_EXTENSIONS[ext]} file (damaged or mislabelled)"
        )
    if looks_like_html(data):
        return read_html(data, path)
    return _BY_EXTENSION.get(ext, read_text)(data, path)


MAX_BYTES = 64 * 1024 * 1024  # reports are well under 1 MB; anything this big is not one


def read_document(path: str | pathlib.Path, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    name = str(path)
    p = pathlib.Path(path)
    try:
        if p.exists() and not p.is_dir() and not p.is_file():
            raise InputError(name, "not a regular file (device, pipe or socket)")
        if p.is_file() and p.stat().st_size > MAX_BYTES:
            raise InputError(name, f"file too large ({p.stat().st_size} bytes; limit {MAX_BYTES})")
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as e:
        raise InputError(name, f"cannot read: {e.strerror or e}") from None
    return read_bytes(data, name, options)
