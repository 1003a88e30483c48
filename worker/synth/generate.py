"""Synthetic reports whose numbers satisfy every identity, rendered the ways real ones arrive.

Deterministic for a seed, each with its gold cells (docs/cell-keys.md form). They are the bundled sample
(no real report is needed to try gouji), the material of property tests, and a benchmark corpus with
known answers. Styles: `lines` (an HTML page flattened one cell per line, like the seed report), `flat`
(crawler text whose table cells run together, like the Pingtan reports), `markdown` (pipe tables) and
`html` (a Word-exported page: merged cells, numbers split across <span>s, blank cells for zero), and
through render.py `pdf` (a text PDF with ruled tables), `docx` (Word with merged cells) and `scan`
(the PDF printed and scanned: image PDF at 300/200 dpi, a degraded scan, or a phone-photo TIFF; all
with rotation, blur, JPEG artefacts and a red seal).
"""

from __future__ import annotations

import html as html_lib
import json
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from gouji.schemas.template import (
    C6,
    C7,
    LP_SUBTOTAL,
    T3_GROUPS,
    T4_GROUPS,
    T4_LEAVES,
    TABLE2,
    VERSIONS,
    Layout,
    Version,
    cell_specs,
    outcome_rows,
    table3_rows,
)
from gouji.worker.synth import render as synth_render
from gouji.worker.synth.kinds import BINARY_STYLES, STYLES, ScanKind, Style

# Table-三 column layouts: the template's seven, an extra 法人或其他组织 subtotal after or before the five
# organisation columns (D12), or only 自然人 / 法人或其他组织 / 总计 (D11).
Columns = Literal["7", "8-after", "8-before", "3"]
_COLUMN_KEYS: dict[Columns, tuple[str, ...]] = {
    "7": C7,
    "8-after": (*C6, LP_SUBTOTAL.key, "total"),
    "8-before": ("natural_person", LP_SUBTOTAL.key, *C6[1:], "total"),
    "3": ("natural_person", LP_SUBTOTAL.key, "total"),
}
Number = int | Decimal
_AGENCIES = ("某市市场监督管理局", "某县人民政府", "某区发展和改革局", "某市科学技术局", "某镇人民政府")


@dataclass
class Synthetic:
    name: str
    text: str  # the report as text (for binary styles: the prose and tables that were drawn)
    suffix: str
    gold: dict[str, Any]
    data: bytes | None = None  # the file for binary styles (pdf, docx, scan)

    @property
    def content(self) -> bytes:
        return self.data if self.data is not None else self.text.encode("utf-8")


def _count(rng: random.Random, big: int = 40) -> int:
    r = rng.random()
    return 0 if r < 0.55 else rng.randint(1, min(9, big)) if r < 0.85 or big <= 10 else rng.randint(10, big)


def generate_values(rng: random.Random, version: Version) -> dict[str, Number]:
    """Cell values of one consistent report (standard layout of `version`)."""
    values: dict[str, Number] = {}
    outs = outcome_rows(version)
    for r in outs:
        for c in C6:
            values[f"applications.{r}.{c}"] = (
                _count(rng)
                if c in ("natural_person", "commercial_enterprise")
                else (_count(rng, 5) if rng.random() < 0.2 else 0)
            )
    for c in C6:
        outcome = sum(int(values[f"applications.{r}.{c}"]) for r in outs)
        values[f"applications.outcome_total.{c}"] = outcome
        fwd = _count(rng, 9) if rng.random() < 0.3 else 0
        values[f"applications.carried_forward.{c}"] = fwd
        over = rng.randint(0, min(outcome + fwd, 5)) if rng.random() < 0.3 else 0
        values[f"applications.carried_over.{c}"] = over
        values[f"applications.new_received.{c}"] = outcome + fwd - over
    for row in table3_rows(version):
        values[f"applications.{row.key}.total"] = sum(int(values[f"applications.{row.key}.{c}"]) for c in C6)
        values[f"applications.{row.key}.{LP_SUBTOTAL.key}"] = sum(
            int(values[f"applications.{row.key}.{c}"]) for c in C6[1:]
        )
    for g, _ in T4_GROUPS:
        leaves = [_count(rng, 12) for _ in range(4)]
        for (leaf, _), v in zip(T4_LEAVES[:4], leaves, strict=True):
            values[f"review_litigation.{g}.{leaf}"] = v
        values[f"review_litigation.{g}.total"] = sum(leaves)
    for block in TABLE2[version]:
        for row in block.rows:
            prefix = f"active_disclosure.{block.key}.{row.key}"
            for col in block.columns:
                if col.kind == "money":
                    values[f"{prefix}.{col.key}"] = Decimal(rng.randint(0, 10**7)) / (10 ** rng.randint(0, 4))
                elif col.kind == "signed":
                    values[f"{prefix}.{col.key}"] = rng.randint(-int(values[f"{prefix}.items_prev_year"]), 30)
                else:
                    values[f"{prefix}.{col.key}"] = _count(rng, 3000)
            if version == "2019" and block.key == "art20_1":
                values[f"{prefix}.total_published"] = int(values[f"{prefix}.newly_published"]) + _count(rng, 300)
    return values


def _fmt(v: Number) -> str:
    return format(v, "f") if isinstance(v, Decimal) else str(v)


def _prose(values: dict[str, Number], agency: str, year: int) -> tuple[list[str], list[str]]:
    """The report's text before its tables and after them."""
    received = values["applications.new_received.total"]
    title = f"{agency}{year}年政府信息公开工作年度报告"
    prose = [
        title,
        f"本报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。",
        "一、总体情况",
        f"{year}年，本机关认真贯彻落实《中华人民共和国政府信息公开条例》。全年收到政府信息公开申请{received}件，"
        f"行政复议{values['review_litigation.review.total']}件。",
    ]
    closing = [
        "五、存在的主要问题及改进情况",
        "政策解读质量仍需提升。",
        "六、其他需要报告的事项",
        "无其他需要报告的事项。",
    ]
    return prose, closing


def render(
    values: dict[str, Number], version: Version, style: Style, agency: str, year: int, columns: Columns = "7"
) -> str:
    prose, closing = _prose(values, agency, year)
    if style == "markdown":
        body = _markdown(values, version, columns)
    elif style == "html":
        if columns != "7":
            raise ValueError("the html rendering prints the template's seven columns only")
        return _html(prose, values, version, closing)
    else:
        body = _lines(values, version, style == "flat", columns)
    lines = [*prose, *body, *closing]
    return ("".join if style == "flat" else "\n".join)(lines) + "\n"


def _t2_rows(values: dict[str, Number], version: Version) -> list[tuple[str, list[str], list[tuple[str, list[str]]]]]:
    """(caption, header words, [(row label, cell texts)]) for each block of table 二."""
    out = []
    for block in TABLE2[version]:
        header = ["信息内容", *(c.label for c in block.columns)]
        rows = [
            (r.label, [_fmt(values[f"active_disclosure.{block.key}.{r.key}.{c.key}"]) for c in block.columns])
            for r in block.rows
        ]
        out.append((block.caption, header, rows))
    return out


def _t3_label_rows(
    values: dict[str, Number], version: Version, columns: Columns = "7"
) -> list[tuple[str, list[str] | None]]:
    groups = {g.key: g.label for g in T3_GROUPS}
    out: list[tuple[str, list[str] | None]] = []
    seen: set[str] = set()
    for r in table3_rows(version):
        g = "outcome" if r.key not in ("new_received", "carried_over") else None
        head = r.key.split(".")[0] if "." in r.key else None
        if g and g not in seen and r.key not in ("outcome_total", "carried_forward"):
            out.append((groups["outcome"], None))
            seen.add(g)
        if head and head not in seen and head in groups and not (version == "2019" and head == "other_processing"):
            out.append((groups[head], None))
            seen.add(head)
        label = r.label
        out.append((label, [_fmt(values[f"applications.{r.key}.{c}"]) for c in _COLUMN_KEYS[columns]]))
    return out


_T3_HEAD = [
    "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
    "申请人情况",
    "自然人",
    "法人或其他组织",
    "总计",
    "商业企业",
    "科研机构",
    "社会公益组织",
    "法律服务机构",
    "其他",
]
_T4_HEAD = [
    "行政复议",
    "行政诉讼",
    "结果维持",
    "结果纠正",
    "其他结果",
    "尚未审结",
    "总计",
    "未经复议直接起诉",
    "复议后起诉",
    *(["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 2),
]


def _t4_values(values: dict[str, Number]) -> list[str]:
    return [_fmt(values[f"review_litigation.{g}.{leaf}"]) for g, _ in T4_GROUPS for leaf, _ in T4_LEAVES]


def _lines(values: dict[str, Number], version: Version, fused: bool, columns: Columns) -> list[str]:
    out = ["二、主动公开政府信息情况"]
    for caption, header, rows in _t2_rows(values, version):
        out += [caption, *header]
        for label, cells in rows:
            out += [label + "".join(cells)] if fused else [label, *cells]
    out += ["三、收到和处理政府信息公开申请情况", *_T3_HEAD]
    for label, t3_cells in _t3_label_rows(values, version, columns):
        out += [label] if t3_cells is None else ([label + "".join(t3_cells)] if fused else [label, *t3_cells])
    out += ["四、政府信息公开行政复议、行政诉讼情况", *_T4_HEAD]
    t4 = _t4_values(values)
    out += [" ".join(t4)] if fused else t4
    return out


def _markdown(values: dict[str, Number], version: Version, columns: Columns) -> list[str]:
    out = ["二、主动公开政府信息情况", ""]
    for caption, header, rows in _t2_rows(values, version):
        out += [caption, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows]
        out.append("")
    out += [
        "三、收到和处理政府信息公开申请情况",
        "",
        "| 申请人情况 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |",
        "|" + "---|" * 8,
    ]
    for label, cells in _t3_label_rows(values, version, columns):
        out.append("| " + " | ".join([label, *(cells or [""] * 7)]) + " |" if cells else f"| {label} |")
    out += [
        "",
        "四、政府信息公开行政复议、行政诉讼情况",
        "",
        "| " + " | ".join(_T4_HEAD[2:7] * 3) + " |",
        "|" + "---|" * 15,
        "| " + " | ".join(_t4_values(values)) + " |",
        "",
    ]
    return out


def _span_split(s: str) -> str:
    """Word splits a number over several <span>s; the reader must join them back."""
    if len(s) < 2:
        return f"<span>{html_lib.escape(s)}</span>"
    return f"<span>{s[:1]}</span><span lang=EN-US>{html_lib.escape(s[1:])}</span>"


def _html(prose: list[str], values: dict[str, Number], version: Version, closing: list[str]) -> str:
    def td(text: str, attrs: str = "") -> str:
        inner = (
            "<o:p>&nbsp;</o:p>"
            if text == ""
            else _span_split(text)
            if text[:1].isdigit() or text[:1] == "-"
            else html_lib.escape(text)
        )
        return f"<td{attrs}><p class=MsoNormal>{inner}</p></td>"

    parts = ['<html><head><meta charset="utf-8"><title>', html_lib.escape(prose[0]), "</title></head><body>"]
    parts += [f"<p>{html_lib.escape(p)}</p>" for p in prose]
    parts.append("<p>二、主动公开政府信息情况</p><table border=1>")
    for caption, header, rows in _t2_rows(values, version):
        parts.append(f"<tr>{td(caption, ' colspan=4')}</tr>")
        span = f" colspan={4 - len(header) + 1}" if len(header) < 4 else ""
        parts.append("<tr>" + "".join(td(h) for h in header[:-1]) + td(header[-1], span) + "</tr>")
        for label, cells in rows:
            parts.append("<tr>" + td(label) + "".join(td(c) for c in cells[:-1]) + td(cells[-1], span) + "</tr>")
    parts.append("</table><p>三、收到和处理政府信息公开申请情况</p><table border=1>")
    parts.append(f"<tr>{td(_T3_HEAD[0], ' colspan=3 rowspan=3')}{td('申请人情况', ' colspan=7')}</tr>")
    parts.append(f"<tr>{td('自然人', ' rowspan=2')}{td('法人或其他组织', ' colspan=5')}{td('总计', ' rowspan=2')}</tr>")
    parts.append("<tr>" + "".join(td(h) for h in _T3_HEAD[5:]) + "</tr>")
    for label, t3_cells in _t3_label_rows(values, version):
        if t3_cells is None:
            continue
        shown = ["" if c == "0" and C7[i] in _BLANK_IN_HTML else c for i, c in enumerate(t3_cells)]
        parts.append("<tr>" + td(label, " colspan=3") + "".join(td(c) for c in shown) + "</tr>")
    parts.append("</table><p>四、政府信息公开行政复议、行政诉讼情况</p><table border=1>")
    parts.append(f"<tr>{td('行政复议', ' colspan=5')}{td('行政诉讼', ' colspan=10')}</tr>")
    parts.append(
        "<tr>"
        + "".join(td(h, " rowspan=2") for h in _T4_HEAD[2:7])
        + td("未经复议直接起诉", " colspan=5")
        + td("复议后起诉", " colspan=5")
        + "</tr>"
    )
    parts.append("<tr>" + "".join(td(h) for h in _T4_HEAD[9:]) + "</tr>")
    parts.append("<tr>" + "".join(td(v) for v in _t4_values(values)) + "</tr></table>")
    parts += [f"<p>{html_lib.escape(p)}</p>" for p in closing]
    parts.append("</body></html>")
    return "\n".join(parts)


def synthesize(
    seed: int,
    style: Style,
    version: Version | None = None,
    columns: Columns = "7",
    scan: ScanKind = "scan300",
    font: str = "",
) -> Synthetic:
    """Report `seed` in `style`; `scan` picks the kind of scan for style "scan", `font` the CJK font file of
    PDFs and scans (default: WenQuanYi)."""
    rng = random.Random(seed)
    chosen: Version = version if version is not None else rng.choice(VERSIONS)
    year = rng.randint(2019, 2020) if chosen == "2019" else rng.randint(2021, 2025)
    agency = rng.choice(_AGENCIES)
    values = generate_values(rng, chosen)
    data: bytes | None = None
    suffix = _SUFFIX[style]
    if style in BINARY_STYLES:
        if columns != "7":
            raise ValueError(f"the {style} rendering prints the template's seven columns only")
        prose, closing = _prose(values, agency, year)
        grids = synth_render.tables(values, chosen)
        text = "\n".join([*prose, *(h for h, _ in grids), *closing]) + "\n"
        pdf = synth_render.render_pdf(prose, grids, closing, font) if style != "docx" else b""
        if style == "pdf":
            data = pdf
        elif style == "docx":
            data = synth_render.render_docx(prose, grids, closing)
        else:
            data, suffix = synth_render.render_scan(pdf, rng, scan, font)
    else:
        text = render(values, chosen, style, agency, year, columns)
    printed = set(_COLUMN_KEYS[columns])
    cells: dict[str, Any] = {}
    for spec in cell_specs(Layout(chosen, "single_row" if chosen == "2019" else "subrows", columns != "7")):
        v = values[spec.key]
        if spec.table == "applications" and spec.column.key not in printed:
            cells[spec.key] = {"value": None, "status": "missing", "raw": ""}
        elif style == "html" and spec.table == "applications" and spec.column.key in _BLANK_IN_HTML and v == 0:
            cells[spec.key] = {"value": None, "status": "blank", "raw": ""}
        else:
            cells[spec.key] = {"value": _fmt(v) if isinstance(v, Decimal) else v, "status": "reported", "raw": _fmt(v)}
    label = f"{style}_{scan}" if style == "scan" else style
    name = f"synth-{chosen}-{label}-{seed}" + ("" if columns == "7" else f"-{columns}col")
    gold = {
        "id": name,
        "file": name + suffix,
        "agency": agency,
        "report_year": year,
        "template_version": chosen,
        "cells": cells,
        "source_identity_failures": [],
        "narrative_claims": [
            {"kind": "applications_received", "value": values["applications.new_received.total"]},
            {"kind": "review_cases", "value": values["review_litigation.review.total"]},
        ],
    }
    return Synthetic(name, text, suffix, gold, data)


_BLANK_IN_HTML = ("research_institution", "public_welfare_org")  # blanks for zero (D14)
_SUFFIX: dict[Style, str] = {
    "lines": ".txt",
    "flat": ".txt",
    "markdown": ".md",
    "html": ".html",
    "pdf": ".pdf",
    "docx": ".docx",
    "scan": ".pdf",
}


def write_corpus(
    out: Path,
    count: int,
    seed: int = 0,
    styles: tuple[Style, ...] = STYLES,
    scan: ScanKind = "scan300",
    font: str = "",
) -> list[Path]:
    """Write `count` reports per style to out/reports and their gold to out/gold; returns the report paths."""
    (out / "reports").mkdir(parents=True, exist_ok=True)
    (out / "gold").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        for style in styles:
            s = synthesize(seed + i, style, scan=scan, font=font)
            path = out / "reports" / (s.name + s.suffix)
            path.write_bytes(s.content)
            (out / "gold" / f"{s.name}.json").write_text(
                json.dumps(s.gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            paths.append(path)
    return paths
