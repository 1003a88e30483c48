"""DOCX → NormalisedDoc: body paragraphs as lines, tables as grids with Word's own merges.

python-docx opens the package, but its `table.rows[i].cells` repeats a merged cell in every slot it
covers, which would hand the extractor the same number several times. The cells are therefore read from
the XML: `w:gridSpan` is a colspan, `w:vMerge="restart"` starts a rowspan that the following
`w:vMerge` (continue) cells extend; continuation cells are not cells of their own, as in HTML.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError

from gouji.worker.errors import InputError
from gouji.worker.read.document import GridCell, GridRow, NormalisedDoc
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _para_text(p: Any) -> str:
    """A paragraph's visible text: runs joined, tabs and breaks as spaces (one line per paragraph)."""
    out: list[str] = []
    for el in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
        out.append(el.text or "" if el.tag == f"{_W}t" else " ")
    return "".join(out).strip()


def _cell_text(tc: Any) -> str:
    return " ".join(t for t in (_para_text(p) for p in tc.iterfind(f"{_W}p")) if t)


def _span(tc: Any) -> tuple[int, str | None]:
    """(gridSpan, vMerge value: "restart", "continue" or None)."""
    pr = tc.find(f"{_W}tcPr")
    if pr is None:
        return 1, None
    gs = pr.find(f"{_W}gridSpan")
    vm = pr.find(f"{_W}vMerge")
    span = int(gs.get(f"{_W}val", "1")) if gs is not None else 1
    merge = None if vm is None else (vm.get(f"{_W}val") or "continue")
    return max(span, 1), merge


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.rows: list[GridRow] = []
        self.tables = 0

    def write(self, s: str) -> tuple[int, int]:
        a = self.pos
        self.parts.append(s)
        self.pos += len(s)
        return a, self.pos

    def paragraph(self, p: Any) -> None:
        text = _para_text(p)
        if text:
            self.write(text + "\n")

    def table(self, tbl: Any) -> None:
        index = self.tables
        self.tables += 1
        rows: list[list[tuple[int, int, str | None, Any]]] = []  # per row: (col, colspan, vMerge, tc)
        for tr in tbl.iterfind(f"{_W}tr"):
            col = 0
            cells = []
            for tc in tr.iterfind(f"{_W}tc"):
                span, merge = _span(tc)
                cells.append((col, span, merge, tc))
                col += span
            rows.append(cells)
        for r, cells in enumerate(rows):
            start = self.pos
            grid: list[GridCell] = []
            for c, (col, span, merge, tc) in enumerate(cells):
                if merge == "continue":
                    continue
                rowspan = 1
                if merge == "restart":
                    for below in rows[r + 1 :]:
                        if not any(bc == col and bm == "continue" for bc, _, bm, _ in below):
                            break
                        rowspan += 1
                if grid:
                    self.write("\t")
                text = _cell_text(tc)
                a, b = self.write(text)
                dom = f"/w:body/w:tbl[{index + 1}]/w:tr[{r + 1}]/w:tc[{c + 1}]"
                grid.append(GridCell(a, b, text, col, span, rowspan, dom))
            self.rows.append(GridRow(tuple(grid), start, self.pos, index, r))
            self.write("\n")
            for tc in (t for _, _, _, t in cells):
                for nested in tc.iterfind(f"{_W}tbl"):
                    self.table(nested)


def read_docx(data: bytes, path: str, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise InputError(path, f"Word (DOCX) file is damaged and cannot be opened ({e})") from None
    w = _Writer()
    for el in document.element.body:
        if el.tag == f"{_W}p":
            w.paragraph(el)
        elif el.tag == f"{_W}tbl":
            w.table(el)
    text = "".join(w.parts)
    if not text.strip():
        raise InputError(path, "Word document has no text")
    return NormalisedDoc.of(
        data,
        path,
        text,
        None,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx_cell",
        w.rows,
    )
