"""Bytes → text for every text-based reader, with the encoding we actually used.

Reports come from Chinese government sites, so besides UTF-8 we see GBK/GB2312 (decoded as GB18030,
their superset), UTF-16 from Windows "Unicode" exports (sometimes without a BOM) and now and then a
binary file with a misleading extension. Provenance offsets refer to the text returned here, so
newlines are normalised once, in this one place.
"""

from __future__ import annotations

import codecs
import re

from gouji.worker.errors import InputError

# Magic numbers of inputs that are not text. Checked before decoding so a PDF is reported as a PDF,
# not as "undecodable bytes".
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP/Office (DOCX/XLSX/OFD)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Word/Excel (DOC/XLS)"),
    (b"{\\rtf", "RTF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"II*\x00", "TIFF image"),
    (b"MM\x00*", "TIFF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
)

_BOMS: tuple[tuple[bytes, str, str], ...] = (
    # UTF-32 first: its LE BOM starts with the UTF-16 LE BOM.
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
    (b"\x84\x31\x95\x33", "gb18030", "gb18030"),
)

# Controls that real text files contain: tab, newline, CR, vertical tab, form feed (pdftotext page break).
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# The same test on bytes, for ASCII-compatible encodings: bytes.translate runs ~10x faster than a regex.
_NOT_CONTROL = bytes(b for b in range(256) if (b >= 0x20 and b != 0x7F) or b in b"\t\n\v\f\r")

# Characters a Chinese report consists of; text decoded with the wrong UTF-16 byte order is mostly not.
_PLAUSIBLE = re.compile(r"[\t\n\r\x20-\x7e\xa0-\u024f\u2000-\u206f\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")

# Labels that name a subset of GB18030; decoding with the superset accepts everything they can hold.
_GB_FAMILY = {"gb2312", "gbk", "cp936", "ms936", "x-gbk", "gb_2312-80", "csgb2312", "euc-cn", "gb18030"}


def sniff_binary(data: bytes) -> str | None:
    """Name the non-text format `data` starts with (e.g. "PDF"), or None if it looks like text."""
    head = data[:16]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"BM") and data[6:10] == b"\x00\x00\x00\x00":
        return "BMP image"  # "BM" alone is also how a text could start; the reserved zero bytes are not
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP image"
    return None


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def codec_name(label: str) -> str | None:
    """Python codec for a declared charset label, GB labels widened to GB18030; None if unknown."""
    label = label.strip().strip("\"'").lower()
    if label in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _utf16_guess(data: bytes) -> tuple[str, str] | None:
    """(text, codec) for BOM-less UTF-16, or None if `data` does not look like UTF-16.

    ASCII characters (digits, spaces, newlines) give NUL bytes on one side; Chinese characters can give
    some on the other (一 is U+4E00), so both byte orders are decoded and the more plausible text wins.
    """
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    if max(even, odd) < len(data) * 0.01:
        return None
    best: tuple[float, str, str] | None = None
    for codec in ("utf-16-le", "utf-16-be") if odd >= even else ("utf-16-be", "utf-16-le"):
        text = _try(data, codec)
        if text:
            score = 1 - len(_PLAUSIBLE.sub("", text)) / len(text)
            if best is None or score > best[0]:
                best = (score, text, codec)
    return (best[1], best[2]) if best is not None and best[0] >= 0.9 else None


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _nearly_utf8(data: bytes) -> tuple[str | None, str]:
    """UTF-8 with a few bad bytes (a truncated download, one corrupt character) stays UTF-8.

    GB18030 would decode such a file "successfully" as mojibake from start to end; a few U+FFFD are the
    lesser evil. Real GBK text decoded as UTF-8 gives about one U+FFFD per character, far from this.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    wide = len(text) - len(text.encode("ascii", errors="ignore")) - bad  # well-formed non-ASCII characters
    if wide >= 50 * bad:
        return text, f"utf-8 ({bad} invalid byte sequences replaced)"
    return None, ""


def _check_text(text: str, path: str, encoding: str, data: bytes) -> str:
    """Refuse binary data that happened to decode: real text has almost no C0/C1 control characters."""
    if "\x00" in text:
        raise InputError(path, f"contains NUL bytes: binary data, not a text file (tried {encoding})")
    if encoding.startswith(("utf-8", "gb18030")):
        bad = len(data.translate(None, _NOT_CONTROL))
    else:
        bad = len(_BAD_CONTROL.findall(text))
    if bad > max(2, len(text) // 100):
        raise InputError(path, f"{bad} control characters in {len(text)}: binary data, not a text file")
    if not text.strip():
        raise InputError(path, "file contains no text (only whitespace)")
    return text


def decode_bytes(data: bytes, path: str, *, declared: str | None = None) -> tuple[str, str]:
    """Return (text with \\n newlines, encoding used). `declared` is a charset the file claims (HTML meta).

    A declaration is only trusted after strict UTF-8 fails: pages labelled gb2312 are often UTF-8, and
    GB18030 would decode UTF-8 bytes "successfully" into nonsense.
    """
    if not data:
        raise InputError(path, "empty file")
    kind = sniff_binary(data)
    if kind is not None:
        raise InputError(path, f"this is a {kind} file, not text")

    text: str | None = None
    encoding = ""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            text = _try(data[len(bom) :], codec)
            if text is None:
                raise InputError(path, f"starts with a {name} byte-order mark but is not valid {name}")
            encoding = name
            break

    if text is None and b"\x00" in data:
        guess = _utf16_guess(data)
        if guess is None:
            raise InputError(path, "contains NUL bytes: binary data, not a text file")
        text, encoding = guess

    if text is None:
        text = _try(data, "utf-8")
        encoding = "utf-8"
    if text is None:
        text, encoding = _nearly_utf8(data)
    if text is None and declared:
        claimed = codec_name(declared)
        if claimed is not None and not claimed.startswith(("utf-16", "utf-32")):
            text = _try(data, claimed)
            encoding = claimed
    if text is None:
        text = _try(data, "gb18030")
        encoding = "gb18030"
    if text is None:
        text, encoding = _guess(data, path)

    if text.startswith("\ufeff"):
        text = text[1:]
    return normalise_newlines(_check_text(text, path, encoding, data)), encoding


def _guess(data: bytes, path: str) -> tuple[str, str]:
    """Last resort for legacy encodings (Big5, Shift-JIS, cp1252...); slow, so only reached rarely."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise InputError(path, "not decodable as text in any known encoding (binary file?)")
    return str(best), str(best.encoding)
