"""Report metadata: title, agency, year, statistical period and publication date.

The year comes from the title and the stated period, never from boilerplate (D28: a 2022 report that
says "2021年" in its preamble). What cannot be found stays empty.
"""

from __future__ import annotations

import re

from gouji.schemas.cells import Span
from gouji.schemas.report import Period, ReportMeta, TextRef
from gouji.worker.read.document import NormalisedDoc

_TITLE = re.compile(
    r"(?P<pre>[\u4e00-\u9fff()]{0,30})(?P<y>(?:19|20)\d{2})年度?(?P<mid>[\u4e00-\u9fff()]{0,20}?)"
    r"政府信息公开(?:工作)?年度?(?:工作)?报告"
)
_NOISE = re.compile(r"^.*(?:年报|正文|标题|位置)")
_PERIOD = re.compile(
    r"(?P<y1>20\d{2})\s*年\s*1\s*月\s*1\s*日[^\n。]{0,6}?至\s*(?:(?P<y2>20\d{2})\s*年\s*)?12\s*月\s*31\s*日"
)
_DATE_LABEL = re.compile(r"(?:日期|发布时间|公开日期|成文日期|发布日期)\s*[:：]?\s*(?P<d>20\d{2}-\d{1,2}-\d{1,2})")
_CN_DATE = re.compile(r"(?P<y>20\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_SCOPE = re.compile(r"[（(](?P<s>[^（）()\n]{2,80}?(?:局|委|办|单位|机关|部门))[）)]")


def read_meta(doc: NormalisedDoc) -> ReportMeta:
    text, cv = doc.text, doc.compact
    meta = ReportMeta()
    head = text[:3000]
    # "关于…年度报告有关事项的通知" names a report inside a letter's title; it is not one.
    m = next((t for t in _TITLE.finditer(cv.text, 0, cv.compact_index(3000)) if "关于" not in t.group(0)), None)
    if m:
        pre = _NOISE.sub("", m["pre"])
        start = m.start("pre") + len(m["pre"]) - len(pre)
        s, e = cv.span(start, m.end())
        meta.title = TextRef(text=" ".join(text[s:e].split()), prov=Span(start=s, end=e))
        meta.report_year = int(m["y"])
        agency = m["mid"].removeprefix("度") or pre
        meta.agency = agency or None
    p = _PERIOD.search(text[:20000])
    if p:
        y = p["y1"]
        meta.period = Period(start=f"{y}-01-01", end=f"{p['y2'] or y}-12-31", basis="text")
        meta.report_year = meta.report_year or int(y)
    elif meta.report_year:
        meta.period = Period(start=f"{meta.report_year}-01-01", end=f"{meta.report_year}-12-31", basis="title")
    d = _DATE_LABEL.search(head)
    if d:
        y, mo, da = d["d"].split("-")
        meta.published_on = f"{y}-{int(mo):02d}-{int(da):02d}"
    else:
        tail = list(_CN_DATE.finditer(text[-600:]))
        if tail and meta.report_year and int(tail[-1]["y"]) > meta.report_year:
            c = tail[-1]
            meta.published_on = f"{c['y']}-{int(c['m']):02d}-{int(c['d']):02d}"
    sc = _SCOPE.search(text[:1500])
    if sc and "以下简称" not in sc["s"] and "\n" not in sc["s"]:
        meta.scope_note = sc["s"]
    return meta
