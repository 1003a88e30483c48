"""Damaged input never crashes the extractor and never yields an ungrounded number.

Real files arrive truncated, with lines lost or doubled and stray digits; whatever the damage, the
result is a valid report whose every reported value is found at its span (or a refusal).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gouji.worker.check.grounding import grounded
from gouji.worker.read import InputError, read_bytes
from gouji.worker.stages import read_report
from gouji.worker.synth.generate import synthesize
from gouji.worker.synth.kinds import STYLES


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, str]:
    s = synthesize(draw(st.integers(0, 10_000)), draw(st.sampled_from(STYLES)))
    lines = s.text.split("\n")
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("drop", "double", "digit", "cut", "swap")))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "digit":
            line = lines[i]
            j = draw(st.integers(0, len(line)))
            lines[i] = line[:j] + draw(st.sampled_from("0123456789-/ ")) + line[j:]
        elif op == "cut":
            lines = lines[: i + 1]
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return "\n".join(lines), s.name + s.suffix


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_reports_never_crash_or_invent(case: tuple[str, str]) -> None:
    text, name = case
    try:
        doc = read_bytes(text.encode("utf-8"), name)
    except InputError as e:  # nothing left to read: a clear error naming the file is the right answer
        assert name in str(e)
        return
    report = read_report(doc)
    report.model_validate_json(report.to_json())
    for cell in report.flat_cells().values():
        assert grounded(cell, doc.text)
