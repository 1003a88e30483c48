"""Entry point of normalisation: any supported file → NormalisedDoc (see document.py).

Dispatch trusts content over names: reports are saved from browsers and chat apps under whatever
extension, so a ".txt" holding a web page is read as HTML, and a PDF is refused as a PDF whatever it
is called.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

from worker.normalise.decode import decode_bytes, sniff_binary
from worker.normalise.document import CompactView, GridCell, GridRow, NormalisedDoc
from worker.normalise.errors import InputError
from worker.normalise.html import read_html
from worker.normalise.markdown import read_markdown
from worker.normalise.text import read_text

__all__ = [
    "CompactView",
    "GridCell",
    "GridRow",
    "InputError",
    "NormalisedDoc",
    "decode_bytes",
    "read_bytes",
    "read_document",
    "read_html",
    "read_markdown",
    "read_text",
]

Reader = Callable[[bytes, str], NormalisedDoc]

_BY_EXTENSION: dict[str, Reader] = {
    ".txt": read_text,
    ".text": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    # Chinese government sites serve pages as .shtml/.jhtml; saved pages keep those names.
    **dict.fromkeys((".html", ".htm", ".xhtml", ".shtml", ".jhtml"), read_html),
}
_UNSUPPORTED_EXTENSIONS = {
    ".pdf": "PDF",
    ".doc": "Word",
    ".docx": "Word",
    ".wps": "WPS",
    ".ofd": "OFD",
    ".xls": "Excel",
    ".xlsx": "Excel",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp"), "image"),
}
_NOT_YET = "input is not supported yet (PDF/Word/OCR support arrives later); supply a .txt, .md or .html version"


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


def read_bytes(data: bytes, path: str) -> NormalisedDoc:
    """Normalise `data`; `path` (or an upload's file name) picks the reader and names it in errors."""
    if not data:
        raise InputError(path, "empty file")
    kind = sniff_binary(data)
    ext = os.path.splitext(path)[1].lower()
    if kind is None and ext in _UNSUPPORTED_EXTENSIONS:
        kind = _UNSUPPORTED_EXTENSIONS[ext]
    if kind is not None:
        raise InputError(path, f"{kind} {_NOT_YET}")
    if looks_like_html(data):
        return read_html(data, path)
    return _BY_EXTENSION.get(ext, read_text)(data, path)


MAX_BYTES = 64 * 1024 * 1024  # reports are well under 1 MB; anything this big is not one


def read_document(path: str | pathlib.Path) -> NormalisedDoc:
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
    return read_bytes(data, name)
