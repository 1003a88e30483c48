"""Plain text (usually pdftotext or copy-paste output) → NormalisedDoc without table structure.

The only structural fact worth recording is whether the table region survived as lines at all: some
sources run a whole table into one line of glued digits (docs/spec.md D22), which the extractor must treat with
the split-enumeration strategy ("flattened_text") instead of line-by-line parsing.
"""

from __future__ import annotations

from gouji.schemas.cells import Method
from gouji.worker.read.decode import decode_bytes
from gouji.worker.read.document import NormalisedDoc

LONG_LINE = 2000  # no real report line is this long; a table run together is
FEW_NEWLINES = 20
LONG_TEXT = 3000


def text_method(text: str) -> Method:
    """ "flattened_text" when the document's lines cannot be trusted as table rows, else "text_line"."""
    if text.count("\n") < FEW_NEWLINES and len(text) > LONG_TEXT:
        return "flattened_text"
    longest = max(map(len, text.split("\n")), default=0)
    return "flattened_text" if longest > LONG_LINE else "text_line"


def read_text(data: bytes, path: str) -> NormalisedDoc:
    text, encoding = decode_bytes(data, path)
    return NormalisedDoc.of(data, path, text, encoding, "text/plain", text_method(text))
