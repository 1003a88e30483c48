"""Markdown (typically PDF→markdown converter output) → NormalisedDoc.

The text is the file itself: converters break tables badly (a row's numbers land in a pipe row, its
label in the prose before it), so the extractor needs the prose around the pipe rows exactly as it is.
Pipe rows are offered as GridRows; their cells point straight into the file.

Conventions: a table is a run of consecutive pipe lines (any other line, blank or not, ends it);
separator rows (|---|:--:|) are skipped but do not end a table; an empty cell sits at the position right
after its opening pipe; "\\|" is text, not a separator, and stays in the cell text as written.
"""

from __future__ import annotations

import itertools
import re

from gouji.worker.read.decode import decode_bytes
from gouji.worker.read.document import GridCell, GridRow, NormalisedDoc

_PIPE_LINE = re.compile(r"(?m)^[ \t]*\|.*$")
_SEPARATOR_CELL = re.compile(r"[ \t]*:?-+:?[ \t]*")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")  # a pipe preceded by an even number of backslashes


def _bounds(line: str) -> list[tuple[int, int]] | None:
    """(opening pipe, end) of each cell in a pipe line; None if it is not a row (fewer than 2 pipes)."""
    pipes = [m.end() - 1 for m in _UNESCAPED_PIPE.finditer(line)]
    if len(pipes) < 2:
        return None
    bounds = list(itertools.pairwise(pipes))
    if line[pipes[-1] + 1 :].strip():
        bounds.append((pipes[-1], len(line)))  # GFM: the closing pipe is optional
    return bounds


def _cells(line: str, bounds: list[tuple[int, int]], base: int) -> tuple[GridCell, ...]:
    cells: list[GridCell] = []
    for col, (a, b) in enumerate(bounds):
        raw = line[a + 1 : b]
        body = raw.strip()
        start = base + a + 1 + (len(raw) - len(raw.lstrip()) if body else 0)
        cells.append(GridCell(start, start + len(body), body, col=col))
    return tuple(cells)


def pipe_rows(text: str) -> list[GridRow]:
    rows: list[GridRow] = []
    table = -1
    index = 0
    last_end = -2  # end of the previous pipe line, to see whether this one directly follows it
    fresh = True  # the next real row starts a new table
    for m in _PIPE_LINE.finditer(text):
        line = m.group()
        bounds = _bounds(line)
        if bounds is None:
            continue
        if m.start() != last_end + 1:
            fresh = True
        last_end = m.end()
        if all(_SEPARATOR_CELL.fullmatch(line, a + 1, b) for a, b in bounds):
            continue
        if fresh:
            table, index, fresh = table + 1, 0, False
        base = m.start()
        indent = len(line) - len(line.lstrip())
        rows.append(GridRow(_cells(line, bounds, base), base + indent, base + len(line.rstrip()), table, index))
        index += 1
    return rows


def read_markdown(data: bytes, path: str) -> NormalisedDoc:
    text, encoding = decode_bytes(data, path)
    return NormalisedDoc.of(data, path, text, encoding, "text/markdown", "markdown_cell", pipe_rows(text))
