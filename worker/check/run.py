"""Running every check on a report: in-table identities, narrative claims and (with the source) grounding.

The check stage (worker/stages.py runs it once per reading, after extraction and fusion); also run on
review drafts and by `gouji validate` on a hand-edited report, so an edit is judged by exactly the rules
the reading was.
"""

from __future__ import annotations

from gouji.schemas.report import Report
from gouji.schemas.rules import evaluate, evaluate_narrative, narrative_balance, narrative_checks, rule_power
from gouji.worker.check.grounding import ground


def run_checks(report: Report, source_text: str | None = None) -> Report:
    layout = report.layout_obj()
    if layout is None:
        report.checks = []
        return report
    cells = report.flat_cells()
    results = evaluate(cells, layout)
    results.append(rule_power(cells, layout, report.report.agency))
    report.narrative_facts = evaluate_narrative(report.narrative_facts, cells, layout)
    results += narrative_checks(report.narrative_facts, cells, layout)
    balance = narrative_balance(report.narrative_facts)
    if balance is not None:
        results.append(balance)
    if source_text is not None:
        results += ground(report, source_text)
    report.checks = results
    return report
