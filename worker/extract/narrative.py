"""Numeric claims in the report's prose (docs/spec.md §5.6), kept with their spans for the N.* checks.

Patterns are declared as data: a claim kind, a regex whose group `n` is the number, and the unit words
that may follow. They run only on text outside the tables, so a table cell is never mistaken for prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gouji.schemas.cells import Span
from gouji.schemas.report import NarrativeFact, Section
from gouji.worker.read.document import CompactView

_UNIT = r"(?P<u>件|宗|例|起|条|个)"
_NUM = r"(?P<n>\d+)"
_GAP = r"[^。;,\d]{0,24}?"  # words between a verb and its number, within one clause (compact view)


@dataclass(frozen=True)
class ClaimPattern:
    kind: str
    rx: re.Pattern[str]


CLAIMS: tuple[ClaimPattern, ...] = tuple(
    ClaimPattern(k, re.compile(rx))
    for k, rx in (
        ("carried_in", rf"(?:含|其中)?上一?年度?结转{_GAP}{_NUM}{_UNIT}"),
        ("carried_forward", rf"(?:顺延|结转|转)(?:到|至|入)?下一?年度?{_GAP}{_NUM}{_UNIT}"),
        ("carried_forward", rf"{_NUM}{_UNIT}[^。;,\d]{{0,6}}(?:顺延|结转|转)(?:到|至|入)?下一?年"),
        ("applications_received", rf"(?:收到|受理|新收|接收){_GAP}申请{_GAP}{_NUM}{_UNIT}"),
        ("applications_received", rf"(?:收到|受理|新收|接收)依申请{_GAP}{_NUM}{_UNIT}"),
        ("outcome:disclosed+partially_disclosed", rf"予以公开(?:和|及|或)部分公开{_GAP}{_NUM}{_UNIT}"),
        ("outcome:disclosed", rf"(?:予以公开|同意公开){_GAP}{_NUM}{_UNIT}"),
        ("outcome:partially_disclosed", rf"部分公开{_GAP}{_NUM}{_UNIT}"),
        ("outcome:withheld", rf"不予公开{_GAP}{_NUM}{_UNIT}"),
        ("outcome:unable", rf"无法提供{_GAP}{_NUM}{_UNIT}"),
        ("outcome:not_processed", rf"不予处理{_GAP}{_NUM}{_UNIT}"),
        ("outcome:other_processing", rf"其他处理{_GAP}{_NUM}{_UNIT}"),
        ("applications_closed", rf"(?:办结|(?<!公开)答复){_GAP}{_NUM}{_UNIT}"),
        ("review_cases", rf"行政复议(?:案件)?{_GAP}{_NUM}{_UNIT}"),
        ("review_cases", rf"{_NUM}{_UNIT}[^。;,\d]{{0,16}}行政复议"),
        ("litigation_cases", rf"行政诉讼(?:案件)?{_GAP}{_NUM}{_UNIT}"),
        ("litigation_cases", rf"{_NUM}{_UNIT}[^。;,\d]{{0,16}}行政诉讼"),
        ("docs_valid", rf"现行有效{_GAP}规范性文件{_GAP}{_NUM}{_UNIT}"),
        ("docs_issued", rf"制发{_GAP}规范性文件{_GAP}{_NUM}{_UNIT}"),
        ("processing_fee_yuan", rf"信息处理费{_GAP}{_NUM}(?P<u>元)"),
    )
)
# A clause about something else that happens to contain a verb above (群众诉求, 来电…) is not a claim.
_OFF_TOPIC = re.compile(r"诉求|来电|来信|咨询|留言|热线")


# Claims that state a table-二 cell outright, usable to choose among splits of a fused run.
CELL_HINTS: dict[str, str] = {
    "docs_valid": "active_disclosure.art20_1.normative_documents.currently_valid",
    "docs_issued": "active_disclosure.art20_1.normative_documents.issued",
    "review_cases": "review_litigation.review.total",
}


def cell_hints(facts: list[NarrativeFact]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for f in facts:
        if f.kind in CELL_HINTS and f.value is not None:
            out.setdefault(CELL_HINTS[f.kind], set()).add(f.value)
    return out


def extract_claims(
    cv: CompactView, text: str, regions: list[tuple[int, int]], sections: list[Section]
) -> list[NarrativeFact]:
    """Claims in the given original-text regions, matched on the compact view so that hard line wraps
    of PDF text ("答\n复 3050 件") do not hide them; spans map back to the exact text."""
    facts: list[NarrativeFact] = []
    taken: list[tuple[int, int]] = []
    for a, b in regions:
        ca, cb = cv.compact_index(a), cv.compact_index(b)
        for pat in CLAIMS:
            for m in pat.rx.finditer(cv.text, ca, cb):
                if any(m.start() < te and ts < m.end() for ts, te in taken) or _OFF_TOPIC.search(m.group(0)):
                    continue
                if pat.kind == "applications_closed" and cv.text[m.end() : m.end() + 1] == "%":
                    continue
                taken.append((m.start(), m.end()))
                s, e = cv.span(m.start(), m.end())
                facts.append(
                    NarrativeFact(
                        kind=pat.kind,
                        value=int(m["n"]),
                        unit_word=m["u"],
                        text=_clause(text, s, e),
                        section=_section_of(sections, s),
                        prov=Span(start=s, end=e),
                    )
                )
    facts.sort(key=lambda f: f.prov.start)
    return facts


def _clause(text: str, s: int, e: int) -> str:
    """The claim with the clause around it, for a reader who wants to see it in context."""
    left = max(text.rfind(ch, 0, s) for ch in "。；;，,")
    return "".join(text[max(left + 1, s - 40) : e].split())  # hard line wraps of PDF text are not spaces


def _section_of(sections: list[Section], pos: int) -> str | None:
    for sec in sections:
        if sec.heading_prov.start <= pos < sec.body_prov.end:
            return sec.key
    return "preamble" if sections and pos < sections[0].heading_prov.start else None
