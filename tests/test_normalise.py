"""Readers: every offset must point at what it claims, whatever the encoding or markup did to the text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gouji.worker.read import InputError, NormalisedDoc, read_bytes, read_document
from gouji.worker.read.decode import decode_bytes
from gouji.worker.read.document import CompactView, GridCell, match_key
from gouji.worker.read.html import read_html
from gouji.worker.read.markdown import read_markdown
from gouji.worker.read.text import read_text

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "reports"
SAMPLE = "沭阳县政府信息公开工作年度报告\n一、总体情况\r\n本年新收申请26件，“三安全一稳定”。\r其他\n"
SAMPLE_OUT = SAMPLE.replace("\r\n", "\n").replace("\r", "\n")


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not available")
    return path


def corpus_files(*patterns: str) -> list[Path]:
    return sorted(p for pat in patterns for p in CORPUS.glob(pat)) if CORPUS.is_dir() else []


def assert_offsets(doc: NormalisedDoc) -> None:
    for row in doc.rows:
        assert 0 <= row.start <= row.end <= len(doc.text)
        for cell in row.cells:
            assert doc.text[cell.start : cell.end] == cell.text, cell
            assert row.start <= cell.start <= cell.end <= row.end
            assert cell.text == cell.text.strip()


def texts(cells: tuple[GridCell, ...]) -> list[str]:
    return [c.text for c in cells]


# ---------------------------------------------------------------- corpus


@pytest.mark.parametrize("path", corpus_files("*.txt", "*.md", "*.html"), ids=lambda p: p.name)
def test_corpus_file_reads(path: Path) -> None:
    doc = read_document(path)
    assert doc.text.strip()
    assert len(doc.sha256) == 64
    assert "\r" not in doc.text
    assert_offsets(doc)


@pytest.mark.parametrize("path", corpus_files("*.pdf"), ids=lambda p: p.name)
def test_corpus_pdf_reads_with_pages(path: Path) -> None:
    doc = read_document(path)
    assert doc.media_type == "application/pdf" and doc.pages
    assert_offsets(doc)


def test_corpus_missing_is_skipped_not_failed() -> None:
    if not CORPUS.is_dir():
        pytest.skip("no shared corpus")
    assert corpus_files("*.html"), "corpus present but has no HTML file"


# ---------------------------------------------------------------- shuyang HTML (Word export)


@pytest.fixture(scope="module")
def shuyang() -> NormalisedDoc:
    return read_document(corpus_file("shuyang-fgj-2023.html"))


def t3_table(doc: NormalisedDoc) -> int:
    return next(r.table for r in doc.rows if r.cells and r.cells[0].text.startswith("一、本年新收"))


def test_shuyang_basics(shuyang: NormalisedDoc) -> None:
    assert shuyang.media_type == "text/html"
    assert shuyang.cell_method == "html_cell"
    assert shuyang.encoding == "utf-8"
    assert shuyang.text.startswith("沭阳县发展和改革局2023年政府信息公开年度报告")
    assert "<" not in shuyang.text and "var websiteId" not in shuyang.text
    assert "\n\n" not in shuyang.text
    assert all(line == line.strip(" ") for line in shuyang.text.split("\n"))
    assert_offsets(shuyang)


def test_shuyang_fragmented_narrative_is_joined(shuyang: NormalisedDoc) -> None:
    # Source: 2023<font>年度我局共收到依申请信息公开</font><font>26</font><font>件，...
    assert "2023年度我局共收到依申请信息公开26件，及时回复申请人" in shuyang.text
    # "20</span><span>23" in the opening paragraph
    assert "统计时限为2023年1月1日至2023年12月31日" in shuyang.text


def test_shuyang_new_applications_row(shuyang: NormalisedDoc) -> None:
    row = next(r for r in shuyang.rows if r.cells and r.cells[0].text == "一、本年新收政府信息公开申请数量")
    label, *values = row.cells
    assert texts(tuple(values)) == ["26", "", "", "", "", "", "26"]
    assert (label.col, label.colspan) == (0, 3)
    assert [c.col for c in values] == list(range(3, 10))
    assert all(c.start == c.end for c in values[1:6])
    assert shuyang.text[row.start : row.end] == "一、本年新收政府信息公开申请数量\t26\t\t\t\t\t\t26"
    assert label.dom is not None and label.dom.endswith("/table/tbody/tr[4]/td[1]")


def test_shuyang_metadata_table_kept(shuyang: NormalisedDoc) -> None:
    first = [r for r in shuyang.rows if r.table == 0]
    assert texts(first[0].cells) == ["名称", "沭阳县发展和改革局2023年政府信息公开年度报告"]
    assert texts(first[1].cells)[0] == "索引号"
    assert tuple(texts(first[2].cells)[2:]) == ("公开日期", "2024-01-17")


def test_shuyang_t3_header_spans(shuyang: NormalisedDoc) -> None:
    table = t3_table(shuyang)
    rows = [r for r in shuyang.rows if r.table == table]

    def spans(i: int) -> list[tuple[str, int, int, int]]:
        return [(c.text, c.col, c.colspan, c.rowspan) for c in rows[i].cells]

    assert spans(0) == [
        ("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 0, 3, 3),
        ("申请人情况", 3, 7, 1),
    ]
    assert spans(1) == [("自然人", 3, 1, 2), ("法人或其他组织", 4, 5, 1), ("总计", 9, 1, 2)]
    assert spans(2) == [
        ("商业 企业", 4, 1, 1),  # two <p> in one cell: one line, a space between
        ("科研 机构", 5, 1, 1),
        ("社会公益组织", 6, 1, 1),
        ("法律服务机构", 7, 1, 1),
        ("其他", 8, 1, 1),
    ]
    outcome = next(c for r in rows for c in r.cells if c.text == "三、本年度办理结果")
    assert (outcome.col, outcome.rowspan) == (0, 22)
    refused = next(r for r in rows if r.cells[0].text == "（三）不予公开")
    assert (refused.cells[0].col, refused.cells[0].rowspan, refused.cells[1].col) == (1, 8, 2)
    second = next(r for r in rows if r.cells[0].text.startswith("2.其他法律行政法规禁止公开"))
    assert [c.col for c in second.cells] == list(range(2, 10))


def test_shuyang_grid_expands_merged_cells(shuyang: NormalisedDoc) -> None:
    table = t3_table(shuyang)
    grid = shuyang.grid(table)
    assert all(len(line) == 10 for line in grid)
    note = grid[0][0]
    assert note is not None and note.colspan == 3
    assert all(grid[i][j] is note for i in range(3) for j in range(3))
    assert grid[2][3] is not None and grid[2][3].text == "自然人"
    assert grid[2][9] is not None and grid[2][9].text == "总计"
    assert {grid[1][j].text for j in range(4, 9)} == {"法人或其他组织"}  # type: ignore[union-attr]
    outcome = [grid[i][0] for i in range(5, 27)]
    assert {c.text for c in outcome if c is not None} == {"三、本年度办理结果"}
    assert all(cell is not None for line in grid for cell in line)


def test_shuyang_dom_paths_point_at_cells(shuyang: NormalisedDoc) -> None:
    from lxml import etree

    from gouji.worker.read.html import parse_html

    root = parse_html(corpus_file("shuyang-fgj-2023.html").read_text(encoding="utf-8"))
    for row in shuyang.rows:
        for cell in row.cells:
            assert cell.dom is not None
            found = root.xpath(cell.dom)
            assert isinstance(found, list) and len(found) == 1
            el = found[0]
            assert isinstance(el, etree._Element)
            assert "".join("".join(str(t) for t in el.itertext()).split()) == "".join(cell.text.split())


# ---------------------------------------------------------------- HTML snippets

WORD_SNIPPET = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv=Content-Type content="text/html; charset=gb2312"><title>年报</title>
<style>p.MsoNormal {margin:0}</style><!--[if gte mso 9]><xml><o:DocumentProperties>
<o:Author>x</o:Author></o:DocumentProperties></xml><![endif]--></head>
<body lang=ZH-CN><div class=WordSection1>
<p class=MsoNormal><span lang=EN-US>2023</span><span>年共收到申请</span><span lang=EN-US>2</span><span
lang=EN-US>6</span><span>件</span><o:p></o:p></p>
<p class=MsoNormal><span style='display:none;mso-hide:all'>HIDDEN</span>可见<o:p>&nbsp;</o:p></p>
<table class=MsoNormalTable border=1>
 <tr><td colspan=2 rowspan=2><p><span>本列</span></p></td><td colspan=2><p>申请人情况</p></td></tr>
 <tr><td><p>自然人</p></td><td><p>总计</p></td></tr>
 <tr><td colspan=2><p><span>一、本年</span><span>新收</span></p></td>
  <td><p><span lang=EN-US>1</span><span lang=EN-US>2</span></p></td>
  <td><p><span lang=EN-US><o:p>&nbsp;</o:p></span></p></td></tr>
 <tr><td>&nbsp;</td><td>\u3000</td><td> 3 </td><td></td></tr>
</table>
<p>&#12288;结&nbsp;&nbsp; 束\u3000</p>
</div></body></html>"""


def test_word_snippet_joins_split_numbers_and_empties_nbsp_cells() -> None:
    doc = read_html(WORD_SNIPPET.encode("gbk"), "word.htm")
    assert doc.encoding == "gb18030"
    lines = doc.text.split("\n")
    assert lines[0] == "年报"
    assert "2023年共收到申请26件" in lines
    assert "可见" in lines and "HIDDEN" not in doc.text and "DocumentProperties" not in doc.text
    assert lines[-2:] == ["结 束", ""]
    assert_offsets(doc)
    assert [texts(r.cells) for r in doc.rows] == [
        ["本列", "申请人情况"],
        ["自然人", "总计"],
        ["一、本年新收", "12", ""],
        ["", "", "3", ""],
    ]
    assert [[(c.col, c.colspan, c.rowspan) for c in r.cells] for r in doc.rows[:3]] == [
        [(0, 2, 2), (2, 2, 1)],
        [(2, 1, 1), (3, 1, 1)],
        [(0, 2, 1), (2, 1, 1), (3, 1, 1)],
    ]
    empty = doc.rows[3].cells
    assert doc.text[doc.rows[3].start : doc.rows[3].end] == "\t\t3\t"
    assert [(c.start - doc.rows[3].start, c.end - doc.rows[3].start) for c in empty] == [(0, 0), (1, 1), (2, 3), (4, 4)]


def test_html_nested_table_rows_belong_to_their_own_table() -> None:
    html = (
        "<table><tr><td>a<table><tr><td>in1</td><td>in2</td></tr></table>b</td><td rowspan=2>R</td></tr>"
        "<tr><td>x</td></tr></table><table><tr><td>last</td></tr></table>"
    )
    doc = read_html(html.encode(), "nested.html")
    assert doc.text == "a b\tR\nin1\tin2\nx\nlast\n"
    assert [(r.table, r.index, texts(r.cells)) for r in doc.rows] == [
        (0, 0, ["a b", "R"]),
        (1, 0, ["in1", "in2"]),
        (0, 1, ["x"]),
        (2, 0, ["last"]),
    ]
    assert doc.rows[1].cells[0].dom == "/html/body/table[1]/tr[1]/td[1]/table/tr/td[1]"
    grid = doc.grid(0)
    assert [[c.text if c else None for c in line] for line in grid] == [["a b", "R"], ["x", "R"]]
    assert_offsets(doc)


def test_html_rowspan_zero_and_oversized_span_the_group() -> None:
    html = "<table><tbody><tr><td rowspan=0>L</td><td>1</td></tr><tr><td>2</td></tr></tbody></table>"
    doc = read_html(html.encode(), "rs.html")
    assert [(c.text, c.col, c.rowspan) for r in doc.rows for c in r.cells] == [
        ("L", 0, 2),
        ("1", 1, 1),
        ("2", 1, 1),
    ]
    html = "<table><tr><td rowspan=9>L</td><td>1</td></tr><tr><td>2</td></tr></table>"
    doc = read_html(html.encode(), "rs.html")
    assert doc.rows[0].cells[0].rowspan == 2


def test_html_blocks_br_pre_and_whitespace() -> None:
    html = (
        "<div>a <b>b</b>\n  c<br>d</div><ul><li> x </li><li>y</li></ul><pre>p1\n  p2</pre>\xa0tail\u3000end"
        "<div hidden>h1</div><p style='DISPLAY: NONE'>h2</p><input type=hidden value=h3>"
    )
    doc = read_html(html.encode(), "b.html")
    assert doc.text == "a b c\nd\nx\ny\np1\np2\ntail end\n"


def test_html_without_visible_text_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no visible text"):
        read_html(b"<html><head><title></title><script>x()</script></head><body> </body></html>", "e.html")


def test_html_declared_charset_ignored_when_utf8_is_valid() -> None:
    html = '<meta charset="gb2312"><p>总计26</p>'
    doc = read_html(html.encode("utf-8"), "m.html")
    assert doc.encoding == "utf-8" and doc.text == "总计26\n"


# ---------------------------------------------------------------- markdown


def test_sh_kewei_pipe_rows(tmp_path: Path) -> None:
    doc = read_document(corpus_file("sh-kewei-2024.md"))
    assert doc.media_type == "text/markdown" and doc.cell_method == "markdown_cell"
    assert doc.text == corpus_file("sh-kewei-2024.md").read_text(encoding="utf-8")
    assert_offsets(doc)
    row = next(r for r in doc.rows if r.cells[0].text == "一、本年新收政府信息公开申请数量")
    assert texts(row.cells) == ["一、本年新收政府信息公开申请数量", "32", "2", "0", "0", "0", "0", "34", ""]
    last = row.cells[-1]
    assert last.start == last.end and doc.text[last.start - 1] == "|"
    assert [c.col for c in row.cells] == list(range(9))
    header = next(r for r in doc.rows if r.cells[0].text == "业")
    assert texts(header.cells)[4:] == [""] * 5
    assert not any(set(c.text) <= set("-:") and c.text for r in doc.rows for c in r.cells)  # no separators
    t4 = next(r for r in doc.rows if texts(r.cells)[:3] == ["1", "0", "0"] and len(r.cells) == 15)
    assert t4.table == max(r.table for r in doc.rows)


def test_markdown_conventions() -> None:
    md = (
        "intro | not a row\n"
        "| a | b\\|c |  |\n"
        "|---|:--:|---|\n"
        "  | 1 |2| no closing pipe\n"
        "\n"
        "| x | y |\r\n"
        "|---|---|\n"
        "| z\n"  # one pipe: not a row, ends the table
        "| w | v |\n"
    )
    doc = read_markdown(md.encode(), "t.md")
    assert "\r" not in doc.text
    assert_offsets(doc)
    assert [(r.table, r.index, texts(r.cells)) for r in doc.rows] == [
        (0, 0, ["a", "b\\|c", ""]),
        (0, 1, ["1", "2", "no closing pipe"]),
        (1, 0, ["x", "y"]),
        (2, 0, ["w", "v"]),
    ]
    empty = doc.rows[0].cells[2]
    assert empty.start == empty.end and doc.text[empty.start - 1] == "|"
    assert doc.text[doc.rows[1].start : doc.rows[1].end] == "| 1 |2| no closing pipe"


# ---------------------------------------------------------------- plain text


def test_text_methods(tmp_path: Path) -> None:
    assert read_text("一行\n".encode() * 30, "a.txt").cell_method == "text_line"
    assert read_text(("数" * 2100 + "\n").encode(), "b.txt").cell_method == "flattened_text"
    assert read_text(("数" * 400 + "\n").encode() * 9, "c.txt").cell_method == "flattened_text"
    doc = read_text(b"a\r\nb\rc\n", "d.txt")
    assert doc.text == "a\nb\nc\n" and doc.rows == [] and doc.media_type == "text/plain"


def test_pingtan_is_flattened() -> None:
    assert read_document(corpus_file("pingtan-2019.txt")).cell_method == "flattened_text"
    assert read_document(corpus_file("cq-scjgj-2020.txt")).cell_method == "text_line"


# ---------------------------------------------------------------- encodings and bad input


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),  # with BOM
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
    ],
)
def test_encoding_round_trip(tmp_path: Path, codec: str, expected: str) -> None:
    path = tmp_path / f"sample-{codec}.txt"
    path.write_bytes(SAMPLE.encode(codec))
    doc = read_document(path)
    assert doc.text == SAMPLE_OUT
    assert doc.encoding == expected
    assert doc.sha256 == __import__("hashlib").sha256(path.read_bytes()).hexdigest()


def test_utf16_html_and_gbk_markdown(tmp_path: Path) -> None:
    page = tmp_path / "page.htm"
    page.write_bytes("<html><body><p>总计<span>2</span>6</p></body></html>".encode("utf-16-le"))
    assert read_document(page).text == "总计26\n"
    md = tmp_path / "t.md"
    md.write_bytes("| 总计 | 26 |\n".encode("gbk"))
    doc = read_document(md)
    assert doc.encoding == "gb18030" and texts(doc.rows[0].cells) == ["总计", "26"]


def test_nearly_utf8_is_not_read_as_gb18030() -> None:
    data = ("政府信息公开工作年度报告" * 10).encode() + "总".encode()[:2]  # cut mid-character
    text, enc = decode_bytes(data, "cut.txt")
    assert text == "政府信息公开工作年度报告" * 10 + "\ufffd"
    assert enc.startswith("utf-8") and "1 invalid" in enc


def test_decode_bytes_declared_charset_is_a_fallback() -> None:
    text, enc = decode_bytes("政府資訊公開第二十條".encode("big5"), "x.html", declared="big5")
    assert (text, enc) == ("政府資訊公開第二十條", "big5")


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b" \n\r\n\t", "no text"),
        ("junk.txt", random.Random(0).randbytes(4096), "binary"),
        ("controls.txt", bytes(range(1, 9)) * 100, "binary"),
        ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF is truncated or corrupt"),
        ("disguised.txt", b"%PDF-1.4 junk", "PDF is truncated or corrupt"),
        ("report.docx", b"PK\x03\x04\x14\x00\x06\x00word/", "damaged ZIP"),
        ("scan.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image is unreadable"),
        ("scan.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image is unreadable"),
        ("scan.tif", b"II*\x00\x08\x00\x00\x00", "image is unreadable"),
        ("named.pdf", b"just text", "named .pdf but the content is not a PDF"),
    ],
)
def test_bad_input_is_an_input_error_naming_the_file(tmp_path: Path, name: str, data: bytes, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError, match=problem) as err:
        read_document(path)
    assert name in str(err.value)
    assert err.value.path == str(path)
    assert str(err.value) == f"{path}: {err.value.problem}"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as err:
        read_document(tmp_path / "nope.txt")
    assert "nope.txt" in str(err.value)
    with pytest.raises(InputError, match="directory"):
        read_document(tmp_path)


def test_dispatch_sniffs_content(tmp_path: Path) -> None:
    page = tmp_path / "saved.txt"
    page.write_text("\ufeff<!-- saved from url=(0022)http://x.gov.cn/ -->\n<!DOCTYPE html><p>总计</p>", "utf-8")
    assert read_document(page).media_type == "text/html"
    other = tmp_path / "report.dat"
    other.write_text("总计 26\n", "utf-8")
    assert read_document(other).media_type == "text/plain"
    assert read_bytes(b"<html><body>x</body></html>", "upload.md").media_type == "text/html"
    assert read_bytes(b"| a | b |\n", "upload.markdown").rows[0].cells[1].text == "b"


# ---------------------------------------------------------------- CompactView (document.py)


def test_compact_view_matches_across_breaks_and_page_marks() -> None:
    text = "三、本年度办理结果\n（四）无\n  -4-  \n法 提供\t1\n第 3 页\n（ 五 ）不予处理"
    view = CompactView(text)
    for label, raw in [("（四）无法提供", "（四）无\n  -4-  \n法 提供"), ("（五）不予处理", "（ 五 ）不予处理")]:
        key = match_key(label)
        i = view.find(key)
        assert i >= 0, label
        start, end = view.span(i, i + len(key))
        assert text[start:end] == raw
    assert "-4-" not in view.text and "第3页" not in view.text
    assert view.compact_index(text.index("法")) == view.find("法")


def test_compact_view_on_rendered_html(shuyang: NormalisedDoc) -> None:
    view = shuyang.compact
    key = match_key("（二）部分公开（区分处理的，只计这一情形，不计其他情形）")
    i = view.find(key)
    start, end = view.span(i, i + len(key))
    cell = next(c for r in shuyang.rows for c in r.cells if c.text.startswith("（二）部分公开"))
    assert (start, end) == (cell.start, cell.end)


def test_footnote_mark_does_not_join_a_number(tmp_path: Path) -> None:
    page = tmp_path / "fn.html"
    page.write_text(
        "<html><body><table><tr><td>自然人</td><td>26<sup>1</sup></td></tr></table><p>m<sup>2</sup></p></body></html>",
        encoding="utf-8",
    )
    doc = read_document(page)
    assert [c.text for c in doc.rows[0].cells] == ["自然人", "26[1]"]
    assert "m[2]" in doc.text
