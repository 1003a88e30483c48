"""The `gouji` command: extract reports, re-validate edited ones, compare consecutive years.

Exit codes are part of the interface: 0 all good, 1 some check failed (or a cell could not be read),
2 bad input — with a message that names the file and the problem, and nothing already written lost.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import click
from pydantic import ValidationError
from sqlalchemy import select

from gouji.schemas.cells import NOT_PRINTED, Cell
from gouji.schemas.localise import propose_fixes
from gouji.schemas.report import CheckResult, Report, json_schema, notable_failures, report_from_cells
from gouji.schemas.rules import evaluate_cross_year
from gouji.worker.check.run import run_checks
from gouji.worker.extract.report import extract_report
from gouji.worker.llm.config import LLMConfig, from_env
from gouji.worker.llm.errors import LLMError
from gouji.worker.llm.extract import extract_with_llm
from gouji.worker.llm.fusion import routes_to_review
from gouji.worker.read import read_document
from gouji.worker.read.errors import InputError
from gouji.worker.service.agencies import merge
from gouji.worker.service.export import FORMATS, Format, export_bytes
from gouji.worker.service.pipeline import (
    FINAL_STATES,
    Outcome,
    add_document,
    batch,
    process,
    record_failure,
    request_work,
)
from gouji.worker.service.status import status_lines
from gouji.worker.service.tasks import QUEUES, broker_url, enqueue, requeue
from gouji.worker.service.tasks import app as celery_app
from gouji.worker.service.tokens import ROLES, create_token
from gouji.worker.store.db import DEFAULT_URL, session, upgrade
from gouji.worker.store.models import CrossYearCheck, Document
from gouji.worker.synth.generate import ALL_STYLES, STYLES, Style, write_corpus
from gouji.worker.synth.render import SCAN_KINDS, ScanKind

OK, CHECKS_FAILED, BAD_INPUT = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gouji")
def main() -> None:
    """gouji (勾稽): government information-disclosure annual reports → validated, traceable data."""


def _unread(report: Report) -> list[Cell]:
    """Cells the extractor could not read (a variant's cells that the form never had do not count)."""
    return [
        c for c in report.flat_cells().values() if c.status in ("unparseable", "missing") and NOT_PRINTED not in c.flags
    ]


def _describe(c: CheckResult) -> str:
    args = ",".join(f"{k}={v}" for k, v in c.args.items() if k != "at")
    head = f"{c.id}[{args}]" if args else c.id
    body = f"{c.lhs} ≠ {c.rhs}" if c.lhs is not None or c.rhs is not None else ""
    extra = f" — {c.detail}" if c.detail else ""
    return f"{c.severity:7} {head} {body}{extra}".rstrip()


def _summary(name: str, report: Report) -> str:
    if report.refused is not None:
        return f"{name}: refused ({report.refused.code}): {report.refused.detail}"
    printed = [c for c in report.flat_cells().values() if NOT_PRINTED not in c.flags]
    read = len(printed) - len(_unread(report))
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


def _details(report: Report, out: Any) -> None:
    for c in notable_failures(report.checks):
        click.echo("    " + _describe(c), file=out)
    for key, cell in report.flat_cells().items():
        if cell.status in ("unparseable", "missing") and NOT_PRINTED not in cell.flags:
            click.echo(f"    unread  {key}: {cell.reason or cell.status}", file=out)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Folder for <name>.json files.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["canonical", "cells"]),
    default="canonical",
    show_default=True,
    help="canonical JSON (docs/spec.md §7) or flat cells keyed as in docs/cell-keys.md.",
)
@click.option("-v", "--verbose", is_flag=True, help="List failing checks and unread cells under each file.")
@click.option(
    "--llm", "use_llm", is_flag=True, help="Also read the tables with the LLM configured by GOUJI_LLM_* and fuse."
)
def extract(
    files: Sequence[Path], out_dir: Path, fmt: Literal["canonical", "cells"], verbose: bool, use_llm: bool
) -> None:
    """Extract FILES (text, markdown, HTML) into DIR/<name>.json, one summary line per file."""
    cfg = _llm_config() if use_llm else None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        click.echo(f"error: {out_dir}: cannot create the output folder: {e.strerror}", err=True)
        sys.exit(BAD_INPUT)
    worst = OK
    with _progress(files) as bar:
        for path in bar:
            try:
                doc = read_document(path)
                report = extract_with_llm(doc, cfg) if cfg is not None else extract_report(doc)
            except InputError as e:
                _say(f"error: {e}", err=True)
                worst = max(worst, BAD_INPUT)
                continue
            except Exception as e:  # one report's crash must not cost the rest of the batch
                _say(
                    f"error: {path}: the extractor failed ({type(e).__name__}: {e}); please report this file", err=True
                )
                worst = max(worst, BAD_INPUT)
                continue
            payload = (
                report.to_json()
                if fmt == "canonical"
                else json.dumps(report.cells_document(), ensure_ascii=False, indent=1)
            )
            _write_atomic(out_dir / f"{path.stem}.json", payload)
            _say(_summary(path.name, report))
            if verbose:
                _details(report, sys.stdout)
            if report.refused is not None:
                worst = max(worst, BAD_INPUT)
            elif notable_failures(report.checks) or _unread(report):
                worst = max(worst, CHECKS_FAILED)
    sys.exit(worst)


def _llm_config() -> LLMConfig:
    try:
        cfg = from_env()
    except LLMError as e:
        click.echo(f"error: LLM configuration: {e.message}", err=True)
        sys.exit(BAD_INPUT)
    if cfg is None:
        click.echo(
            "error: --llm needs an endpoint: set GOUJI_LLM_BASE_URL and GOUJI_LLM_MODEL "
            "(and GOUJI_LLM_API_KEY if it needs one); see the README, 'LLM extraction'",
            err=True,
        )
        sys.exit(BAD_INPUT)
    return cfg


def _progress(files: Sequence[Path]) -> AbstractContextManager[Iterable[Path]]:
    """A progress bar on a terminal when many files are given; plain iteration otherwise (clean logs)."""
    if len(files) > 3 and sys.stderr.isatty():
        return click.progressbar(files, label="extracting", file=sys.stderr, show_pos=True)
    return nullcontext(files)


def _say(line: str, err: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")  # clear the progress bar's line before printing over it
    click.echo(line, err=err)


def _write_atomic(target: Path, payload: str) -> None:
    """Write beside the target and rename, so an interrupted run never leaves half a report."""
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(payload + "\n", encoding="utf-8")
    tmp.replace(target)


def _load_report(path: Path) -> Report:
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


@main.command()
@click.argument("report_file", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(path_type=Path), help="The original file, to re-check grounding.")
@click.option("--max-changes", default=2, show_default=True, help="Largest fix proposal to search for.")
def validate(report_file: Path, source: Path | None, max_changes: int) -> None:
    """Re-run every check on a (possibly hand-edited) REPORT.json; print failures and fix proposals."""
    try:
        report = _load_report(report_file)
        text = read_document(source).text if source else None
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(BAD_INPUT)
    if source is not None and text is not None:
        want = report.report.sources[0].text_sha256 if report.report.sources else None
        if want and want != read_document(source).text_sha256:
            click.echo(f"error: {source}: not the text this report was extracted from (text_sha256 differs)", err=True)
            sys.exit(BAD_INPUT)
    run_checks(report, text)
    click.echo(_summary(report_file.name, report))
    _details(report, sys.stdout)
    layout = report.layout_obj()
    if layout is not None and any(c.severity == "error" for c in notable_failures(report.checks)):
        for p in propose_fixes(report.flat_cells(), layout, max_changes=max_changes):
            changes = ", ".join(f"{c.key}: {c.current} → {c.proposed}" for c in p.changes)
            hyp = f" [{', '.join(p.hypotheses)}]" if p.hypotheses else ""
            click.echo(f"    fix?    {changes} repairs {', '.join(p.repairs)}{hyp}")
    sys.exit(CHECKS_FAILED if notable_failures(report.checks) else OK)


@main.command()
@click.argument("prev_file", type=click.Path(path_type=Path))
@click.argument("cur_file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the comparison document (docs/spec.md §7.7) here.",
)
def compare(prev_file: Path, cur_file: Path, out_file: Path | None) -> None:
    """Cross-year checks (X.*) between last year's PREV.json and this year's CUR.json."""
    try:
        prev, cur = _load_report(prev_file), _load_report(cur_file)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(BAD_INPUT)
    pl, cl = prev.layout_obj(), cur.layout_obj()
    if pl is None or cl is None:
        click.echo("error: both reports need a known template version", err=True)
        sys.exit(BAD_INPUT)
    results = evaluate_cross_year(prev.flat_cells(), pl, cur.flat_cells(), cl)
    doc = {
        "agency": cur.report.agency,
        "year_prev": prev.report.report_year,
        "year": cur.report.report_year,
        "checks": [r.model_dump(mode="json") for r in results],
    }
    failed = notable_failures(results)
    click.echo(f"{prev_file.name} → {cur_file.name}: {len(results)} cross-year checks, {len(failed)} failed")
    for c in failed:
        click.echo("    " + _describe(c))
    if prev.report.agency and cur.report.agency and prev.report.agency != cur.report.agency:
        click.echo(f"    note: agencies differ ({prev.report.agency} / {cur.report.agency}); check the scope (D33)")
    if out_file is not None:
        _write_atomic(out_file, json.dumps(doc, ensure_ascii=False, indent=1))
    sys.exit(CHECKS_FAILED if failed else OK)


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", default=5, show_default=True, help="Reports per style.")
@click.option("--seed", default=0, show_default=True, help="First seed; the same seed gives the same reports.")
@click.option(
    "--style",
    "styles",
    multiple=True,
    type=click.Choice(ALL_STYLES),
    help="Styles to write (default: the text styles lines, flat, markdown, html).",
)
@click.option(
    "--scan-kind",
    type=click.Choice(SCAN_KINDS),
    default="scan300",
    show_default=True,
    help="For --style scan: image PDF at 300 or 200 dpi, a degraded scan, or a phone-photo TIFF.",
)
def synth(out_dir: Path, count: int, seed: int, styles: tuple[Style, ...], scan_kind: ScanKind) -> None:
    """Write synthetic consistent reports to OUT_DIR/reports and their gold cells to OUT_DIR/gold."""
    paths = write_corpus(out_dir, count, seed, styles or STYLES, scan_kind)
    click.echo(f"wrote {len(paths)} reports to {out_dir / 'reports'} and their gold to {out_dir / 'gold'}")


def _collect(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Files under the given paths (folders recursively, hidden entries skipped) and the paths not found."""
    files: list[Path] = []
    missing: list[str] = []
    for p in paths:
        if p.is_dir():
            files += sorted(
                f for f in p.rglob("*") if f.is_file() and not any(x.startswith(".") for x in f.parts[len(p.parts) :])
            )
        elif p.is_file():
            files.append(p)
        else:
            missing.append(str(p))
    return files, missing


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--batch", "batch_name", help="Batch name (default: ingest-<UTC timestamp>).")
@click.option("--llm", "use_llm", is_flag=True, help="Also read with the LLM configured by GOUJI_LLM_*.")
@click.option(
    "--db",
    "db_url",
    envvar="GOUJI_DATABASE_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Database URL (env GOUJI_DATABASE_URL); SQLite needs no server.",
)
@click.option("--broker", envvar="GOUJI_BROKER_URL", default=None, help="Send work to Celery workers on this broker.")
@click.option("--wait", default=0.0, help="With a broker: wait up to this many seconds for the batch to finish.")
def ingest(
    paths: Sequence[Path], batch_name: str | None, use_llm: bool, db_url: str, broker: str | None, wait: float
) -> None:
    """Store report files (or folders of them) and process them: in-process by default, or by Celery
    workers when a broker is configured (GOUJI_BROKER_URL)."""
    cfg = _llm_config() if use_llm else None
    name = batch_name or f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    files, missing = _collect(paths)
    outcomes: list[Outcome] = []
    queued: list[int] = []
    with session(db_url) as s:
        for m in missing:
            outcomes.append(record_failure(s, m, "ingest", "no such file or folder", batch(s, name)))
    with _progress(files) as bar:
        for f in bar:
            try:
                data = f.read_bytes()
            except OSError as e:
                with session(db_url) as s:
                    outcomes.append(record_failure(s, str(f), "ingest", f"cannot read: {e.strerror}", batch(s, name)))
                continue
            with session(db_url) as s:  # one transaction per document: a failure costs that document only
                doc, _ = add_document(s, data, f.name, batch(s, name))
                request_work(doc, cfg)
                if broker is None:
                    outcomes.append(process(s, doc, cfg))
                    continue
                doc_id = doc.id
            enqueue(doc_id, cfg is not None, db_url)  # after the commit: a worker must find the document
            queued.append(doc_id)
    for o in outcomes:
        if o.state == "failed":
            _say(f"error: {o.file_name}: {o.detail}", err=True)
        elif len(outcomes) <= 50:  # per-file lines for a handful of files; big batches get the summary
            _say(f"{o.file_name}: {o.state}" + (f" ({o.detail})" if o.detail else ""))
    if queued:
        _say(f"queued {len(queued)} document(s) for the workers on {broker}")
        states = _wait_for(db_url, queued, wait) if wait > 0 else {}
        outcomes += [Outcome("", i, states.get(i, "queued")) for i in queued]
    counts = {state: sum(o.state == state for o in outcomes) for state in (*FINAL_STATES, "queued")}
    _say(
        f"batch {name}: {len(outcomes)} file(s): "
        + ", ".join(f"{n} {st}" for st, n in counts.items() if n or st != "queued")
    )
    _say(f"database: {db_url}")
    _say(f"  gouji status --batch {name}      documents per state, review tasks, failures")
    _say(f"  gouji export csv --batch {name} -o cells.csv   every cell with its source span (also xlsx, parquet, …)")
    _say("  gouji serve                      the API and the review queue at http://127.0.0.1:8000/")
    sys.exit(BAD_INPUT if counts["failed"] else OK)


def _wait_for(db_url: str, ids: list[int], seconds: float) -> dict[int, str]:
    """Poll the database (the system of record) until every document is final or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        with session(db_url) as s:
            states = dict(s.execute(select(Document.id, Document.state).where(Document.id.in_(ids))).all())
        if all(states.get(i) in FINAL_STATES for i in ids) or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


@main.command("worker")
@click.option("--concurrency", "-c", default=2, show_default=True, help="Worker processes.")
@click.option("--queues", "-Q", default=",".join(QUEUES), show_default=True)
@click.option("--loglevel", default="INFO", show_default=True)
@click.option(
    "--beat",
    is_flag=True,
    help="Also run the scheduler that re-sends stuck documents every GOUJI_REQUEUE_EVERY s "
    "(requests pending over GOUJI_REQUEUE_AFTER s). Exactly one worker of a deployment should have it.",
)
def worker_cmd(concurrency: int, queues: str, loglevel: str, beat: bool) -> None:
    """Run a Celery worker on GOUJI_BROKER_URL (several machines may point at the same Redis and database)."""
    if broker_url() is None:
        click.echo("error: set GOUJI_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True)
        sys.exit(BAD_INPUT)
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "--loglevel", loglevel, "-n", "gouji@%h"]
    if beat:
        schedule = Path(tempfile.gettempdir()) / f"gouji-beat-{os.getpid()}"
        argv += ["--beat", "--schedule", str(schedule)]
    celery_app.worker_main(argv)


@main.command("requeue")
@click.option(
    "--older-than", default=600.0, show_default=True, help="Seconds a request may wait before it counts as stuck."
)
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
@click.option("--broker", envvar="GOUJI_BROKER_URL", default=None)
def requeue_cmd(older_than: float, db_url: str, broker: str | None) -> None:
    """Send again every document whose requested processing has not finished after --older-than seconds
    (on the path, LLM or not, it was asked for). `gouji worker --beat` does this periodically."""
    stuck = requeue(db_url, older_than, queue=broker is not None)
    click.echo(f"{len(stuck)} stuck document(s) {'queued again' if broker else 'processed'}")


@main.command()
@click.option("--batch", "batch_name", help="Only this batch.")
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def status(batch_name: str | None, db_url: str) -> None:
    """Documents per state (per batch), open review tasks and the newest failures, from the database."""
    with session(db_url) as s:
        for line in status_lines(s, batch_name):
            click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Server processes.")
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def serve(host: str, port: int, db_url: str, workers: int) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the review UI (http://HOST:PORT/, sign in with a reviewer
    token) on the database; uploads run in-process unless a broker is set."""
    import uvicorn

    upgrade(db_url)  # once, before any server process starts
    os.environ["GOUJI_DATABASE_URL"] = db_url
    uvicorn.run("gouji.api.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def token_create(name: str, role: str, db_url: str) -> None:
    """Create a token; it is printed once (only its hash is stored). Reviewers sign in to the review UI with it."""
    with session(db_url) as s:
        click.echo(create_token(s, name, role))


@main.command()
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--batch", "batch_name", help="Only this batch.")
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def export(fmt: Format, out_file: Path, batch_name: str | None, db_url: str) -> None:
    """Export the newest version of every report: csv (long), wide.csv, xlsx, parquet or jsonl."""
    with session(db_url) as s:
        data = export_bytes(s, fmt, batch_name)
    tmp = out_file.with_suffix(out_file.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out_file)
    click.echo(f"{out_file}: {len(data)} bytes")


@main.group()
def agency() -> None:
    """Agencies across years."""


@agency.command("alias")
@click.argument("alias")
@click.option("--into", required=True, help="The agency name the alias belongs to.")
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def agency_alias(alias: str, into: str, db_url: str) -> None:
    """Merge printed name ALIAS into the agency INTO; the cross-year checks are recomputed."""
    with session(db_url) as s:
        target = merge(s, alias, into)
        rows = s.scalars(select(CrossYearCheck).where(CrossYearCheck.agency_id == target.id)).all()
        click.echo(f"{alias} → {target.name}: {len(rows)} cross-year comparison(s)")
        for r in rows:
            click.echo(f"    {r.year_prev} → {r.year}: {len(r.checks)} checks, {r.failed} failed")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--db", "db_url", envvar="GOUJI_DATABASE_URL", default=DEFAULT_URL, show_default=True)
def db_upgrade(db_url: str) -> None:
    """Create or migrate the schema to the newest version."""
    upgrade(db_url)
    click.echo(f"{db_url}: schema up to date")


@main.command()
def schema() -> None:
    """Print the JSON Schema of the canonical report."""
    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
