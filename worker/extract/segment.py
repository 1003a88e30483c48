"""Finding the report's parts: template version, the six sections, and the three table regions.

Tables are located by their own anchors (docs/spec.md §1.1 rule 6), not by section headings, because headings
are the part agencies damage most: "行政法复议", numbering that restarts, headings run into the text.
Sections are still segmented (for narrative attribution and the canonical `sections` list) with the
keyword + monotonic-order rule, which keeps table-三 row labels such as "四、结转下年度继续办理" out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gouji.schemas.cells import Span
from gouji.schemas.report import Section, TemplateEvidence
from gouji.schemas.template import COMMON_MARKERS, MARKERS, SECTION_KEYS, Version
from gouji.worker.read.document import NormalisedDoc, match_key

_NUMERALS = "一二三四五六"
_T3_ROW_STARTS = ("本年新收", "上年结转", "本年度办理结果", "结转下年度")
_SENTENCE_END = set("。；：;:!！?？)）\n")


@dataclass(frozen=True)
class Regions:
    """Original-text offsets of the three tables ([start, end); None when not found)."""

    t2: tuple[int, int] | None
    t3: tuple[int, int] | None
    t4: tuple[int, int] | None
    narrative: list[tuple[int, int]]  # the text outside the tables


def detect_version(doc: NormalisedDoc) -> tuple[Version | None, TemplateEvidence, int]:
    """Template version from the labels (never from the year); also how many shared labels were seen."""
    text = doc.compact.text
    found = {v: [m for m in MARKERS[v] if match_key(m) in text] for v in MARKERS}
    common = sum(match_key(m) in text for m in COMMON_MARKERS)
    n19, n21 = len(found["2019"]), len(found["2021"])
    version: Version | None = None
    if n19 or n21:
        version = "2019" if n19 > n21 else "2021"
    ev = TemplateEvidence(markers_2019=found["2019"], markers_2021=found["2021"], mixed=bool(n19 and n21))
    return version, ev, common


def find_regions(doc: NormalisedDoc) -> Regions:
    cv = doc.compact
    t = cv.text
    c2 = _search(t, r"第二十条第?\(一\)项", 0)
    if c2 is None:
        c2 = _search(t, r"第二十条", 0)
    c3 = _search(t, r"\(?本列数据的勾稽关系|申请人情况", c2 or 0)
    c4 = _search(t, r"行政复议", c3) if c3 is not None else None
    c5 = None
    if c4 is not None:
        c5 = _search(
            t,
            r"(?:五[、.,]?(?:存在|政府信息公开工作存在|主要问题|存在问题))|\(一\)主要问题|(?:五|六)[、.,]?其[他它]需要报告",
            c4,
        )
    n = len(doc.text)

    def off(c: int | None) -> int | None:
        return None if c is None else cv.offset(c)

    o2, o3, o4, o5 = off(c2), off(c3), off(c4), off(c5)
    t2 = (o2, o3 if o3 is not None else (o4 if o4 is not None else n)) if o2 is not None else None
    t3 = (o3, o4 if o4 is not None else (o5 if o5 is not None else n)) if o3 is not None else None
    t4 = (o4, o5 if o5 is not None else n) if o4 is not None else None
    starts = [r for r in (t2, t3, t4) if r is not None]
    narrative = [(0, starts[0][0]), (starts[-1][1], n)] if starts else [(0, n)]
    return Regions(t2, t3, t4, narrative)


def _search(text: str, rx: str, start: int | None) -> int | None:
    if start is None:
        return None
    m = re.compile(rx).search(text, start)
    return m.start() if m else None


_HEADING = re.compile(r"([一二三四五六])\s*[、.．,，]?\s*")


def find_sections(doc: NormalisedDoc) -> list[Section]:
    """Top-level headings 一…六 by keyword and order (docs/spec.md §1.1); the body runs to the next heading."""
    text = doc.text
    found: list[tuple[int, int, int, str]] = []  # (start, end of heading, index, key)
    expected = 0
    for m in _HEADING.finditer(text):
        idx = _NUMERALS.index(m.group(1))
        if idx < expected or idx > expected + 1:
            continue
        prev = text[: m.start()].rstrip(" \t\u3000")
        if prev and prev[-1] not in _SENTENCE_END:
            continue
        title_end = _title_end(text, m.end())
        title = match_key(text[m.end() : title_end])
        if any(title.startswith(s) for s in _T3_ROW_STARTS):
            continue
        _, key, words = SECTION_KEYS[idx]
        if not any(w in title[:30] for w in words):
            continue
        found.append((m.start(), title_end, idx, key))
        expected = idx + 1
    sections = []
    for i, (s, e, idx, key) in enumerate(found):
        body_end = found[i + 1][0] if i + 1 < len(found) else len(text)
        sections.append(
            Section(
                key=key,
                number=_NUMERALS[idx],
                heading_raw=text[s:e].strip(),
                heading_prov=Span(start=s, end=e),
                body_prov=Span(start=e, end=body_end),
            )
        )
    return sections


def _title_end(text: str, pos: int) -> int:
    """A heading title ends at the line end, or (flattened text) at the first sentence mark or after 40 chars."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    for mark in "。；":
        i = text.find(mark, pos, end)
        if i >= 0:
            end = i
    if end - pos > 40:
        m = re.search(r"情况|事项|问题|改进|概述", text[pos : pos + 40])
        end = pos + m.end() if m else pos + 20
    return end
