"""The LLM path: read each table with the model, repair what breaks the identities, fuse with the rules.

It starts from the deterministic reading (its cells and the table regions it found) and returns the fused
reading, unchecked: the check stage runs once, afterwards, on the fused report.

Only each table's own text goes out (not the whole report), one call per table, the tables of a report
in parallel. A table whose answer breaks an identity is asked again — that table only, with the failing
identities, the cells involved and the same excerpt, as a fresh two-message request (no growing chat
history, so a retry costs one table again, not the sum of all before it). The loop stops at a count and
at the document's token budget. The best answer (fewest failures) is fused with the deterministic
reading; every attempt is in the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI

from gouji.prompts import repair_prompt, task_prompt
from gouji.schemas.cells import Cell
from gouji.schemas.llm import TABLE_PREFIX, TableId
from gouji.schemas.report import Report, TableRow
from gouji.schemas.rules import evaluate, failures
from gouji.schemas.template import Layout, cell_specs
from gouji.worker.check.grounding import grounded
from gouji.worker.errors import LLMError
from gouji.worker.extract.report import Extraction
from gouji.worker.llm.client import TableReader, schema_json
from gouji.worker.llm.config import LLMConfig
from gouji.worker.llm.fusion import fuse
from gouji.worker.llm.ledger import Ledger
from gouji.worker.llm.reading import answer_cells, locate
from gouji.worker.read.document import NormalisedDoc


@dataclass
class TableOutcome:
    table: TableId
    cells: dict[str, Cell] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # identity labels the kept answer still fails
    repairs: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def read_with_llm(
    doc: NormalisedDoc,
    reading: Extraction,
    cfg: LLMConfig,
    client: OpenAI | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """The deterministic reading fused with the LLM's reading of each table it located (unchecked)."""
    det, regions = reading.report, reading.regions
    layout = det.layout_obj()
    if det.refused is not None or layout is None or regions is None:
        return det
    spans = {"t2": regions.t2, "t3": regions.t3, "t4": regions.t4}
    ledger = Ledger(cfg.token_budget)
    reader = TableReader(cfg, ledger, client, sleep)
    labels = _row_starts(det, layout)
    det_cells = det.flat_cells()
    tables: list[TableId] = [t for t in ("t2", "t3", "t4") if spans[t] is not None]
    with ThreadPoolExecutor(max_workers=max(cfg.concurrency, 1)) as pool:
        futures = {
            t: pool.submit(_read_table, reader, cfg, t, layout, doc.text, spans[t], labels, det_cells) for t in tables
        }
        outcomes = {t: f.result() for t, f in futures.items()}
    llm_cells = {k: c for o in outcomes.values() for k, c in o.cells.items()}
    ungrounded = {k for k, c in det_cells.items() if not grounded(c, doc.text)}
    report = det.with_cells(fuse(det_cells, llm_cells, layout, ungrounded))
    report.llm = {
        "config": cfg.public(),
        "tables": {
            t: {"failures": o.failures, "repairs": o.repairs, "error": o.error, "notes": o.notes}
            for t, o in outcomes.items()
        },
        "ledger": ledger.summary(cfg.model, cfg.prices),
    }
    return report


def _row_starts(report: Report, layout: Layout) -> dict[str, int]:
    """Where each row's label stands (from the deterministic reading), to look for an LLM value there."""
    out: dict[str, int] = {}
    for spec in cell_specs(layout):
        node: Any = getattr(report, spec.table)
        for part in spec.path[:-2]:  # the row object holding this cell
            node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if isinstance(node, TableRow) and node.label_prov is not None:
            out[spec.key.rsplit(".", 1)[0]] = node.label_prov.start
    return out


def _read_table(
    reader: TableReader,
    cfg: LLMConfig,
    table: TableId,
    layout: Layout,
    text: str,
    span: tuple[int, int] | None,
    labels: dict[str, int],
    det: dict[str, Cell],
) -> TableOutcome:
    outcome = TableOutcome(table)
    if span is None:
        return outcome
    a, b = span
    excerpt = text[a:b]
    version = layout.version
    schema = schema_json(table, version) if cfg.mode == "json_object" else None
    try:
        answer = reader.ask(table, version, task_prompt(table, version, excerpt, schema), "read")
    except LLMError as e:
        outcome.error = str(e)
        return outcome
    best, best_fail = _judge(answer, table, layout, text, span, labels, outcome)
    for _ in range(cfg.max_repairs):
        if not best_fail or _agency_error(best_fail, best, det):
            break
        failing = [{"rule": r.id + _args(r.args), "lhs": r.lhs, "rhs": r.rhs, "cells": r.operands} for r in best_fail]
        involved = {k for r in best_fail for k in r.operands}
        previous = {
            k: str(best[k].value if best[k].status == "reported" else best[k].status)
            for k in sorted(involved)
            if k in best
        }
        prompt = repair_prompt(table, version, excerpt, failing, previous, schema)
        try:
            answer = reader.ask(table, version, prompt, "repair")
        except LLMError as e:
            outcome.error = f"repair stopped: {e}"
            break
        outcome.repairs += 1
        cells, fails = _judge(answer, table, layout, text, span, labels, outcome)
        if len(fails) <= len(best_fail):
            best, best_fail = cells, fails
    outcome.cells = best
    outcome.failures = sorted({r.id + _args(r.args) for r in best_fail})
    return outcome


def _judge(
    answer: Any,
    table: TableId,
    layout: Layout,
    text: str,
    span: tuple[int, int],
    labels: dict[str, int],
    outcome: TableOutcome,
) -> tuple[dict[str, Cell], list[Any]]:
    """The answer's cells, located in the source, and the strict identity failures within this table."""
    cells, notes = answer_cells(answer, table, layout)
    outcome.notes = notes
    for key, cell in cells.items():
        locate(cell, text, span[0], span[1], labels.get(key.rsplit(".", 1)[0]))
    prefix = TABLE_PREFIX[table] + "."
    view = {s.key: cells.get(s.key, Cell(status="missing")) for s in cell_specs(layout)}
    fails = [
        r
        for r in failures(evaluate(view, layout))
        if r.severity == "error" and r.operands and all(k.startswith(prefix) for k in r.operands)
    ]
    return cells, fails


def _agency_error(fails: list[Any], llm: dict[str, Cell], det: dict[str, Cell]) -> bool:
    """Both readings agree on every cell of every failing identity: the report itself breaks them, and
    asking the model again would only invite it to "correct" the agency's numbers."""
    keys = {k for r in fails for k in r.operands}
    return all(k in llm and k in det and det[k].status == "reported" and det[k].value == llm[k].value for k in keys)


def _args(args: dict[str, str]) -> str:
    return "[" + ",".join(f"{k}={v}" for k, v in args.items()) + "]" if args else ""
