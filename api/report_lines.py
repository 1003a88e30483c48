"""How the command line shows a report: one summary line, the failing checks and unread cells beneath it,
and loading a report file (canonical JSON, or a flat cells document like the gold files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import click
from pydantic import ValidationError

from gouji.schemas.cells import NOT_PRINTED, Cell
from gouji.schemas.report import CheckResult, Report, notable_failures, report_from_cells
from gouji.worker.errors import InputError
from gouji.worker.llm.fusion import routes_to_review


def unread(report: Report) -> list[Cell]:
    """Cells the extractor could not read (a variant's cells that the form never had do not count)."""
    return [
        c for c in report.flat_cells().values() if c.status in ("unparseable", "missing") and NOT_PRINTED not in c.flags
    ]


def describe(c: CheckResult) -> str:
    args = ",".join(f"{k}={v}" for k, v in c.args.items() if k != "at")
    head = f"{c.id}[{args}]" if args else c.id
    body = f"{c.lhs} ≠ {c.rhs}" if c.lhs is not None or c.rhs is not None else ""
    extra = f" — {c.detail}" if c.detail else ""
    return f"{c.severity:7} {head} {body}{extra}".rstrip()


def summary(name: str, report: Report) -> str:
    if report.refused is not None:
        return f"{name}: refused ({report.refused.code}): {report.refused.detail}"
    printed = [c for c in report.flat_cells().values() if NOT_PRINTED not in c.flags]
    read = len(printed) - len(unread(report))
    failed = notable_failures(report.checks)
    ids = sorted({c.id for c in failed})
    fails = f"{len(failed)} check(s) failed ({', '.join(ids)})" if failed else "all checks pass"
    line = f"{name}: template {report.template_version}, {read}/{len(printed)} cells read, {fails}"
    if report.llm is not None:
        ledger = report.llm["ledger"]
        review = sum(routes_to_review(c) for c in report.flat_cells().values())
        cost = f", ${ledger['cost_usd']:.4f}" if ledger["cost_usd"] is not None else ""
        errors = [f"{t}: {o['error']}" for t, o in report.llm["tables"].items() if o["error"]]
        line += (
            f"; llm {ledger['calls']} calls, {ledger['input_tokens']}+{ledger['output_tokens']} tokens{cost}, "
            f"{review} cells to review" + (f" ({'; '.join(errors)})" if errors else "")
        )
    return line


def details(report: Report, out: IO[str]) -> None:
    for c in notable_failures(report.checks):
        click.echo("    " + describe(c), file=out)
    for key, cell in report.flat_cells().items():
        if cell.status in ("unparseable", "missing") and NOT_PRINTED not in cell.flags:
            click.echo(f"    unread  {key}: {cell.reason or cell.status}", file=out)


def load_report(path: Path) -> Report:
    """A canonical report, or a flat cells document (`--format cells`, the gold files' shape)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"cannot read: {e}") from e
    except json.JSONDecodeError as e:
        raise InputError(str(path), f"not JSON: {e}") from e
    try:
        if isinstance(data, dict) and "cells" in data and "schema" not in data:
            return report_from_cells(data)
        return Report.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        raise InputError(
            str(path), f"not a gouji report: {where}: {first['msg']} ({e.error_count()} problem(s))"
        ) from e
    except ValueError as e:
        raise InputError(str(path), f"not a gouji cells document: {e}") from e
