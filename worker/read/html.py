"""HTML → NormalisedDoc: our own text rendering so every table cell has an exact span in the text.

lxml's text_content() cannot be used: it keeps source whitespace, puts nothing between table cells and
gives no offsets. Browsers' rendering rules are what readers of a report saw, so we imitate the parts
that matter: blocks break lines, inline fragments join without separators (Word splits "26" into
<span>2</span><span>6</span>), whitespace (incl. NBSP and U+3000) collapses, a table row is one line
with TAB between cells.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from gouji.worker.errors import InputError
from gouji.worker.read.decode import decode_bytes
from gouji.worker.read.document import GridCell, GridRow, NormalisedDoc

# Not rendered by browsers (or head-only); <xml> holds Word's document properties.
_DROP = frozenset(
    (
        "head",
        "title",
        "meta",
        "link",
        "base",
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "xml",
        "svg",
        "math",
        "canvas",
        "audio",
        "video",
        "select",
        "datalist",
        "input",
        "textarea",
        "button",
        "map",
        "area",
    )
)
_BLOCK = frozenset(
    (
        "html",
        "body",
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "legend",
        "li",
        "listing",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "plaintext",
        "pre",
        "section",
        "summary",
        "ul",
        "xmp",
        "caption",
        "tr",
        "td",
        "th",
        "tbody",
        "thead",
        "tfoot",
        "table",
    )
)
# Phrasing elements: render as their text run together, so lxml can merge them away before we walk.
_INLINE = (
    "a",
    "abbr",
    "acronym",
    "b",
    "bdi",
    "bdo",
    "big",
    "blink",
    "cite",
    "code",
    "data",
    "del",
    "dfn",
    "em",
    "font",
    "i",
    "ins",
    "kbd",
    "label",
    "mark",
    "nobr",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "time",
    "tt",
    "u",
    "var",
    "wbr",
    "o:p",
)
# Table structure survives hiding: a hidden row or cell still occupies grid slots.
_KEEP_HIDDEN = frozenset(["tr", "td", "th", "tbody", "thead", "tfoot", "col", "colgroup"])
# Attribute values (smart strings knowing their element) are far cheaper to select than `//*[test]`,
# and cheaper still is not selecting them when the source cannot hide anything.
_HIDING_ATTRS = etree.XPath("//@style | //@hidden")
_DIGITS = re.compile(r"\s*(\d{1,6})")
_DISPLAY_BEFORE = re.compile(r"display\s*:\s*$")
_WS = re.compile(r"[\s\u200b\ufeff]+")  # \s covers NBSP and U+3000 in str patterns
_HIDDEN = re.compile(r"display\s*:\s*none|mso-hide\s*:\s*all", re.I)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I
)  # covers <meta charset=x> and http-equiv content="text/html; charset=x"


class _Writer:
    """Accumulates the rendered text; whitespace and line breaks are emitted lazily so lines are stripped."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.pos = 0
        self.line_empty = True
        self.at_boundary = True  # at line start or just after a cell TAB: a pending space is dropped
        self.pending_break = False
        self.pending_space = False
        self.in_cell = 0
        self.cell_start: int | None = None
        self.cell_buf = 0

    def _write(self, s: str) -> None:
        self.buf.append(s)
        self.pos += len(s)

    def _flush_break(self) -> None:
        if self.pending_break:
            if not self.line_empty:
                self._write("\n")
                self.line_empty = True
                self.at_boundary = True
            self.pending_break = False

    def text(self, s: str, pre: bool = False) -> None:
        if pre and "\n" in s:
            for i, line in enumerate(s.split("\n")):
                if i:
                    self.brk()
                self.text(line)
            return
        for i, tok in enumerate(_WS.split(s)):
            if i:
                self.pending_space = True
            if tok:
                self._flush_break()
                if self.pending_space and not self.at_boundary:
                    self._write(" ")
                if self.in_cell and self.cell_start is None:
                    self.cell_start = self.pos
                    self.cell_buf = len(self.buf)
                self._write(tok)
                self.pending_space = self.at_boundary = self.line_empty = False

    def brk(self) -> None:
        if self.in_cell:
            self.pending_space = True  # paragraphs inside a cell stay on the row's line
        else:
            self.pending_break = True
            self.pending_space = False

    def new_line(self) -> int:
        self.brk()
        self._flush_break()
        return self.pos

    def tab(self) -> None:
        self._flush_break()
        self._write("\t")
        self.line_empty = False
        self.at_boundary = True
        self.pending_space = False

    def open_cell(self) -> None:
        self.in_cell += 1
        self.cell_start = None

    def close_cell(self) -> tuple[int, int, str]:
        self.in_cell -= 1
        self.pending_space = False
        if self.cell_start is None:
            return self.pos, self.pos, ""
        return self.cell_start, self.pos, "".join(self.buf[self.cell_buf :])

    def result(self) -> str:
        return "".join(self.buf) + ("" if self.line_empty else "\n")


def _span(value: str | None, low: int) -> int:
    """colspan/rowspan as browsers read them: leading digits ("2px" → 2), junk → 1."""
    m = _DIGITS.match(value or "")
    return max(int(m.group(1)), low) if m else 1


class _Renderer:
    def __init__(self, table_paths: dict[etree._Element, str]) -> None:
        self.w = _Writer()
        self.rows: list[GridRow] = []
        self.tables = 0
        self.deferred: list[list[etree._Element]] = []
        self.table_paths = table_paths

    def walk(self, el: etree._Element, pre: bool = False) -> None:
        w = self.w
        tag = el.tag
        if not isinstance(tag, str):
            return
        if tag == "table":
            if w.in_cell:
                self.deferred[-1].append(el)  # nested table: its rows are rendered after this row
                w.brk()  # still a block: the cell's text around it must not run together
            else:
                self.table(el)
            return
        if tag == "br":
            w.brk()
            return
        block = tag in _BLOCK
        pre = pre or tag in ("pre", "listing", "xmp", "plaintext")
        if block:
            w.brk()
        if el.text:
            w.text(el.text, pre)
        for child in el:
            self.walk(child, pre)
            if child.tail:
                w.text(child.tail, pre)
        if block:
            w.brk()

    def table(self, el: etree._Element) -> None:
        index = self.tables
        self.tables += 1
        # Paths of cells = the table's path in the untouched page + the path inside the table.
        prefix = self.table_paths.get(el) or el.getroottree().getpath(el)
        inner = etree.ElementTree(el).getpath
        # Row groups (thead/tbody/tfoot, or a run of bare <tr>s): rowspans never cross them.
        items: list[list[etree._Element] | etree._Element] = []
        run: list[etree._Element] | None = None
        for child in el:
            if child.tag == "tr":
                if run is None:
                    run = []
                    items.append(run)
                run.append(child)
                continue
            run = None
            if child.tag in ("thead", "tbody", "tfoot"):
                items.append([tr for tr in child if tr.tag == "tr"])
            elif child.tag not in ("colgroup", "col"):
                items.append(child)
        self.w.brk()
        n = 0
        for item in items:
            if isinstance(item, list):
                occupied: list[int] = []  # per grid column: rows still covered by a rowspan from above
                for i, tr in enumerate(item):
                    self.row(tr, index, n, occupied, len(item) - i, prefix, inner)
                    occupied[:] = [max(k - 1, 0) for k in occupied]
                    n += 1
            else:
                self.walk(item)
                if item.tail:
                    self.w.text(item.tail)
        self.w.brk()

    def row(
        self,
        tr: etree._Element,
        table: int,
        index: int,
        occupied: list[int],
        left: int,
        prefix: str,
        inner: Callable[[etree._Element], str],
    ) -> None:
        w = self.w
        start = w.new_line()
        self.deferred.append([])
        cells: list[GridCell] = []
        col = 0
        for td in tr:
            if td.tag not in ("td", "th"):
                continue
            if cells:
                w.tab()
            while col < len(occupied) and occupied[col]:
                col += 1
            colspan = min(_span(td.get("colspan"), 1), 1000)
            rowspan = _span(td.get("rowspan"), 0)
            rowspan = left if rowspan == 0 or rowspan > left else rowspan
            if len(occupied) < col + colspan:
                occupied.extend([0] * (col + colspan - len(occupied)))
            occupied[col : col + colspan] = [rowspan] * colspan
            w.open_cell()
            if td.text:
                w.text(td.text)
            for child in td:
                self.walk(child)
                if child.tail:
                    w.text(child.tail)
            s, e, text = w.close_cell()
            dom = prefix + inner(td)[6:]  # drop the leading "/table"
            cells.append(GridCell(s, e, text, col, colspan, rowspan, dom))
            col += colspan
        self.rows.append(GridRow(tuple(cells), start, w.pos, table, index))
        w.brk()
        for nested in self.deferred.pop():
            self.table(nested)


def html_charset(data: bytes) -> str | None:
    """Charset declared by <meta charset> / http-equiv in the first 8 KiB (where browsers look)."""
    m = _META_CHARSET.search(data[:8192])
    return m.group(1).decode("ascii") if m else None


def parse_html(text: str) -> etree._Element:
    # Re-encode so lxml never re-decodes with a (possibly wrong) <meta charset>; a str input would also
    # be rejected if it carried an XML encoding declaration.
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
    root = etree.fromstring(text.encode("utf-8"), parser)
    if root is None:
        root = etree.fromstring(b"<html><body></body></html>", parser)
    return root


def _unlink(el: etree._Element) -> None:
    """Remove `el` with its content but keep its tail text, which belongs to the parent."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def may_hide(source: str) -> bool:
    """Cheap pre-check: can this page hide anything (display:none, mso-hide, hidden attribute)?

    Literal searches only: a regex with `\\s*` or a case-insensitive alternation scans 100 KB pages
    ~30x slower.
    """
    low = source.lower()
    if "mso-hide" in low:
        return True
    for m in re.finditer("none", low):
        if _DISPLAY_BEFORE.search(low, max(m.start() - 40, 0), m.start()):
            return True
    for m in re.finditer("hidden", low):
        i, j = m.start(), m.end()
        if i and low[i - 1].isspace() and j < len(low) and low[j] in " \t\n>=/":
            return True
    return False


def render_html(root: etree._Element, hiding: bool = True) -> tuple[str, list[GridRow]]:
    """Rendered text (title first) and the table rows found on the way. Modifies `root`.

    `hiding=False` (the source has no display:none / hidden) skips the search for hidden elements.
    """
    title = root.find("head/title")
    if title is None:
        title = root.find(".//title")
    title_text = "".join(str(t) for t in title.itertext()) if title is not None else ""
    getpath = root.getroottree().getpath
    table_paths = {t: getpath(t) for t in root.iter("table")}  # before edits shift sibling indices
    etree.strip_elements(root, *_DROP, with_tail=False)
    if hiding:
        for value in _HIDING_ATTRS(root):  # type: ignore[union-attr]
            assert isinstance(value, etree._ElementUnicodeResult)
            el = value.getparent()
            if el is None or el.tag in _KEEP_HIDDEN:
                continue
            if value.attrname == "hidden" or _HIDDEN.search(value):
                _unlink(el)
    for el in root.iter("sup", "sub"):
        # A footnote mark after a number must not join it: "26<sup>1</sup>" renders "26[1]", which no
        # reader takes for 261.
        mark = "".join(str(t) for t in el.itertext()).strip()
        for child in list(el):
            el.remove(child)
        el.text = f"[{mark}]" if mark else ""
    etree.strip_tags(root, *_INLINE)  # joins Word's split runs in C: "<span>2</span><span>6</span>"

    r = _Renderer(table_paths)
    r.w.text(title_text)
    r.w.brk()
    r.walk(root)
    return r.w.result(), r.rows


def read_html(data: bytes, path: str) -> NormalisedDoc:
    declared = html_charset(data)
    text, encoding = decode_bytes(data, path, declared=declared)
    rendered, rows = render_html(parse_html(text), hiding=may_hide(text))
    if not rendered.strip():
        raise InputError(path, "HTML page has no visible text")
    return NormalisedDoc.of(data, path, rendered, encoding, "text/html", "html_cell", rows)
