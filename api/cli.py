"""The `gouji` command: read reports without a database, or store, process, serve, review and export them.

Exit codes are part of the interface: 0 all good, 1 some check failed (or a cell could not be read),
2 bad input or configuration — with a message that names the file (or the setting) and the problem, and
nothing already written lost.

Each command builds the settings once (`Settings.from_env()`, plus its own options such as `--db`) and
hands them down. Heavy libraries (the database, Celery, the LLM client, the PDF and OCR stacks) are
imported inside the commands that use them, so `gouji --help` answers at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from gouji.worker.service.vocabulary import FINAL_STATES, FORMATS, QUEUES, ROLES, Format
from gouji.worker.synth.kinds import ALL_STYLES, SCAN_KINDS, STYLES, ScanKind, Style

if TYPE_CHECKING:
    from gouji.worker.service.pipeline import Outcome
    from gouji.worker.settings import Settings

OK, CHECKS_FAILED, BAD_INPUT = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])


class _Gouji(click.Group):
    """Turns gouji's own errors (bad configuration, bad input) into one `error:` line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        from gouji.worker.errors import GoujiError

        try:
            return super().invoke(ctx)
        except GoujiError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(BAD_INPUT)


@click.group(cls=_Gouji, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gouji")
def main() -> None:
    """gouji (勾稽): government information-disclosure annual reports → validated, traceable data."""


def settings_from_env(**overrides: Any) -> Settings:
    """The settings of this command: the environment, then the command's own options."""
    from gouji.worker.settings import Settings

    return Settings.from_env(**overrides)


def with_settings(broker: bool = False) -> Callable[[F], F]:
    """Adds `--db` (and `--broker`) to a command and passes it `settings`, built once from the environment
    and those options."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, db_url: str | None, broker_url: str | None = None, **kw: Any) -> Any:
            return f(*args, settings=settings_from_env(database_url=db_url, broker_url=broker_url), **kw)

        run = click.option(
            "--db",
            "db_url",
            default=None,
            help="Database URL (default: GOUJI_DATABASE_URL, else sqlite:///gouji.db; SQLite needs no server).",
        )(run)
        if broker:
            run = click.option(
                "--broker",
                "broker_url",
                default=None,
                help="Celery broker, e.g. redis://127.0.0.1:6379/0 (default: GOUJI_BROKER_URL; unset: in-process).",
            )(run)
        return run  # type: ignore[return-value]

    return decorate


def masked(url: str) -> str:
    """A URL as it may be printed: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _progress(files: Sequence[Path], label: str) -> AbstractContextManager[Iterable[Path]]:
    """A progress bar on a terminal when many files are given; plain iteration otherwise (clean logs)."""
    if len(files) > 3 and sys.stderr.isatty():
        return click.progressbar(files, label=label, file=sys.stderr, show_pos=True)
    return nullcontext(files)


def _say(line: str, err: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")  # clear the progress bar's line before printing over it
    click.echo(line, err=err)


def _write_atomic(target: Path, payload: str | bytes) -> None:
    """Write beside the target and rename, so an interrupted run never leaves half a file."""
    tmp = target.with_suffix(target.suffix + ".tmp")
    if isinstance(payload, str):
        tmp.write_text(payload + "\n", encoding="utf-8")
    else:
        tmp.write_bytes(payload)
    tmp.replace(target)


# -- reading without a database -------------------------------------------------------------------


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
    """Extract FILES into DIR/<name>.json, one line per file.

    \b
    Inputs (the kind is sniffed from the content, not the name):
      .txt .md .html/.htm/.shtml  text, markdown and web pages, any encoding (UTF-8, GBK/GB18030, UTF-16)
      .pdf                        text-layer PDFs; scanned PDFs through offline OCR
      .png .jpg .tif .bmp .webp   page images and photos, through offline OCR (multi-page TIFF too)
      .docx                       Word; .doc .wps .rtf through LibreOffice when it is installed
    """
    import json

    from gouji.api.report_lines import details, summary, unread
    from gouji.schemas.report import notable_failures
    from gouji.worker.errors import InputError
    from gouji.worker.read import read_document
    from gouji.worker.stages import read_report

    settings = settings_from_env()
    cfg = settings.llm_config(use_llm)
    options = settings.read_options()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        click.echo(f"error: {out_dir}: cannot create the output folder: {e.strerror}", err=True)
        sys.exit(BAD_INPUT)
    worst = OK
    with _progress(files, "extracting") as bar:
        for path in bar:
            try:
                report = read_report(read_document(path, options), cfg)
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
            _say(summary(path.name, report))
            if verbose:
                details(report, sys.stdout)
            if report.refused is not None:
                worst = max(worst, BAD_INPUT)
            elif notable_failures(report.checks) or unread(report):
                worst = max(worst, CHECKS_FAILED)
    sys.exit(worst)


@main.command()
@click.argument("report_file", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(path_type=Path), help="The original file, to re-check grounding.")
@click.option("--max-changes", default=2, show_default=True, help="Largest fix proposal to search for.")
def validate(report_file: Path, source: Path | None, max_changes: int) -> None:
    """Re-run every check on a (possibly hand-edited) REPORT.json; print failures and fix proposals."""
    from gouji.api.report_lines import details, load_report, summary
    from gouji.schemas.localise import propose_fixes
    from gouji.schemas.report import notable_failures
    from gouji.worker.check.run import run_checks
    from gouji.worker.read import read_document

    report = load_report(report_file)
    text = None
    if source is not None:
        doc = read_document(source, settings_from_env().read_options())
        want = report.report.sources[0].text_sha256 if report.report.sources else None
        if want and want != doc.text_sha256:
            click.echo(f"error: {source}: not the text this report was extracted from (text_sha256 differs)", err=True)
            sys.exit(BAD_INPUT)
        text = doc.text
    run_checks(report, text)
    click.echo(summary(report_file.name, report))
    details(report, sys.stdout)
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
    import json

    from gouji.api.report_lines import describe, load_report
    from gouji.schemas.report import notable_failures
    from gouji.schemas.rules import evaluate_cross_year

    prev, cur = load_report(prev_file), load_report(cur_file)
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
    years = (prev.report.report_year, cur.report.report_year)
    if None not in years and years[1] != (years[0] or 0) + 1:
        click.echo(
            f"    note: the years are not consecutive ({years[0]} → {years[1]}): the carry-over checks compare "
            "a year's end with the next year's start and mean little across a gap"
        )
    for c in failed:
        click.echo("    " + describe(c))
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
    from gouji.worker.synth.generate import write_corpus

    font = settings_from_env().cjk_font
    paths = write_corpus(out_dir, count, seed, styles or STYLES, scan_kind, font)
    click.echo(f"wrote {len(paths)} reports to {out_dir / 'reports'} and their gold to {out_dir / 'gold'}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of the canonical report."""
    import json

    from gouji.schemas.report import json_schema

    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=1))


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table of every setting and its default (as in the README).")
def settings_cmd(markdown: bool) -> None:
    """Show the settings in effect (GOUJI_* variables; secrets masked)."""
    from gouji.worker.settings import markdown_table, variable

    if markdown:
        click.echo(markdown_table())
        return
    for name, value in settings_from_env():
        click.echo(f"{variable(name)}={'' if value is None else value}")


# -- the store and the service ----------------------------------------------------------------------


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
@click.option("--wait", default=0.0, help="With a broker: wait up to this many seconds for the batch to finish.")
@with_settings(broker=True)
def ingest(paths: Sequence[Path], batch_name: str | None, use_llm: bool, wait: float, settings: Settings) -> None:
    """Store report files (or folders of them) and process them: in-process by default, or by Celery
    workers when a broker is configured (GOUJI_BROKER_URL)."""
    from datetime import UTC, datetime

    from gouji.worker.service.pipeline import Outcome, add_document, batch, record_failure
    from gouji.worker.service.submit import QUEUED, submit
    from gouji.worker.store.db import session

    cfg = settings.llm_config(use_llm)
    db_url = settings.database_url
    name = batch_name or f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    files, missing = _collect(paths)
    outcomes: list[Outcome] = []
    with session(db_url) as s:
        for m in missing:
            outcomes.append(record_failure(s, m, "ingest", "no such file or folder", batch(s, name)))
    with _progress(files, "ingesting") as bar:
        for f in bar:
            try:
                data = f.read_bytes()
            except OSError as e:
                with session(db_url) as s:
                    outcomes.append(record_failure(s, str(f), "ingest", f"cannot read: {e.strerror}", batch(s, name)))
                continue
            with session(db_url) as s:  # one transaction per document: a failure costs that document only
                doc, _ = add_document(s, data, f.name, batch(s, name))
                outcomes.append(submit(s, settings, doc, cfg))
    queued = [o.document_id for o in outcomes if o.state == QUEUED and o.document_id is not None]
    for o in outcomes:
        if o.state == "failed":
            _say(f"error: {o.file_name}: {o.detail}", err=True)
        elif o.state != QUEUED and len(outcomes) <= 50:  # per-file lines for a handful; big batches: the summary
            _say(f"{o.file_name}: {o.state}" + (f" ({o.detail})" if o.detail else ""))
    if queued:
        _say(f"queued {len(queued)} document(s) for the workers on {masked(settings.broker_url or '')}")
        states = _wait_for(db_url, queued, wait) if wait > 0 else {}
        outcomes = [o for o in outcomes if o.state != QUEUED]
        outcomes += [Outcome("", i, states.get(i, QUEUED)) for i in queued]
    counts = {state: sum(o.state == state for o in outcomes) for state in (*FINAL_STATES, QUEUED)}
    _say(
        f"batch {name}: {len(outcomes)} file(s): "
        + ", ".join(f"{n} {st}" for st, n in counts.items() if n or st != QUEUED)
    )
    _say(f"database: {masked(db_url)}")
    _say(f"  gouji status --batch {name}      documents per state, review tasks, failures")
    _say(f"  gouji export csv --batch {name} -o cells.csv   every cell with its source span (also xlsx, parquet, …)")
    _say("  gouji serve                      the API and the review queue at http://127.0.0.1:8000/")
    sys.exit(BAD_INPUT if counts["failed"] else OK)


def _wait_for(db_url: str, ids: list[int], seconds: float) -> dict[int, str]:
    """Poll the database (the system of record) until every document is final or time runs out."""
    import time

    from sqlalchemy import select

    from gouji.worker.store.db import session
    from gouji.worker.store.models import Document

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
    import os
    import tempfile

    from gouji.worker.service.tasks import configure

    settings = settings_from_env()
    if settings.broker_url is None:
        click.echo("error: set GOUJI_BROKER_URL (e.g. redis://127.0.0.1:6379/0) to run a worker", err=True)
        sys.exit(BAD_INPUT)
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "--loglevel", loglevel, "-n", "gouji@%h"]
    if beat:
        schedule = Path(tempfile.gettempdir()) / f"gouji-beat-{os.getpid()}"
        argv += ["--beat", "--schedule", str(schedule)]
    configure(settings).worker_main(argv)


@main.command("requeue")
@click.option(
    "--older-than", default=600.0, show_default=True, help="Seconds a request may wait before it counts as stuck."
)
@with_settings(broker=True)
def requeue_cmd(older_than: float, settings: Settings) -> None:
    """Send again every document whose requested processing has not finished after --older-than seconds
    (on the path, LLM or not, it was asked for). `gouji worker --beat` does this periodically."""
    from gouji.worker.service.tasks import requeue

    stuck = requeue(settings, older_than)
    click.echo(f"{len(stuck)} stuck document(s) {'queued again' if settings.broker_url else 'processed'}")


@main.command()
@click.option("--batch", "batch_name", help="Only this batch.")
@with_settings()
def status(batch_name: str | None, settings: Settings) -> None:
    """Documents per state (per batch), open review tasks and the newest failures, from the database."""
    from gouji.worker.service.status import status_lines
    from gouji.worker.store.db import session

    with session(settings.database_url) as s:
        for line in status_lines(s, batch_name):
            click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=1, show_default=True, help="Server processes.")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request to stderr.")
@with_settings()
def serve(host: str, port: int, workers: int, access_log: bool, settings: Settings) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the review UI (http://HOST:PORT/, sign in with a reviewer
    token) on the database; uploads run in-process unless a broker is set."""
    import os

    import uvicorn

    from gouji.api.app import create_app
    from gouji.worker.store.db import upgrade

    upgrade(settings.database_url)  # once, before any server process starts
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"gouji serve: http://{shown}:{port}/  (review queue /review, API docs /docs; database "
        f"{masked(settings.database_url)}; reads {'public' if settings.public_read else 'need a token'})",
        err=True,
    )
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", "access_log": access_log}
    if access_log:  # uvicorn logs requests at INFO; its other chatter stays at WARNING (levels set per logger)
        options |= {"log_config": _log_config(), "log_level": None}
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Several processes need an import string; each builds its app from the same environment.
    os.environ["GOUJI_DATABASE_URL"] = settings.database_url
    uvicorn.run("gouji.api.app:app_from_env", factory=True, workers=workers, **options)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging with the access log at INFO on stderr and everything else at WARNING."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": {k: dict(v) for k, v in LOGGING_CONFIG["loggers"].items()}}
    config["loggers"]["uvicorn"]["level"] = "WARNING"
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO"
    config["handlers"] = {k: dict(v) for k, v in config["handlers"].items()}
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="viewer reads; uploader uploads and reads; reviewer reviews and reads; admin does everything.",
)
@click.option("--expires-in", type=click.FloatRange(min=0, min_open=True), help="Days until the token stops working.")
@with_settings()
def token_create(name: str, role: str, expires_in: float | None, settings: Settings) -> None:
    """Create a token; it is printed once (only its hash is stored). Reviewers sign in to the review UI with it."""
    from datetime import timedelta

    from gouji.worker.service.tokens import create_token
    from gouji.worker.store.db import session

    with session(settings.database_url) as s:
        click.echo(create_token(s, name, role, timedelta(days=expires_in) if expires_in else None))


@token.command("list")
@with_settings()
def token_list(settings: Settings) -> None:
    """Every token: id, name, role, created, last used, expires, and whether it is revoked (never the token)."""
    from gouji.worker.service.tokens import list_tokens, valid
    from gouji.worker.store.db import session

    def day(at: Any) -> str:
        return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"

    with session(settings.database_url) as s:
        click.echo(f"{'id':>4} {'name':20} {'role':9} {'created':16} {'last used':16} {'expires':16} state")
        for t in list_tokens(s):
            state = "revoked" if t.revoked else "active" if valid(t) else "expired"
            click.echo(
                f"{t.id:>4} {t.name:20} {t.role:9} {day(t.created_at):16} {day(t.last_used_at):16} "
                f"{day(t.expires_at):16} {state}"
            )


@token.command("revoke")
@click.argument("name_or_id")
@with_settings()
def token_revoke(name_or_id: str, settings: Settings) -> None:
    """Revoke every active token named NAME_OR_ID (or the token with that id); the API stops accepting it
    within seconds, and its review sessions end."""
    from gouji.worker.service.tokens import revoke
    from gouji.worker.store.db import session

    with session(settings.database_url) as s:
        for t in revoke(s, name_or_id):
            click.echo(f"revoked token {t.id} ({t.name}, {t.role})")


@main.command()
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--batch", "batch_name", help="Only this batch.")
@with_settings()
def export(fmt: Format, out_file: Path, batch_name: str | None, settings: Settings) -> None:
    """Export the newest version of every report: csv (long), wide.csv, xlsx, parquet or jsonl."""
    from gouji.worker.service.export import export_bytes
    from gouji.worker.store.db import session

    with session(settings.database_url) as s:
        data = export_bytes(s, fmt, batch_name)
    _write_atomic(out_file, data)
    click.echo(f"{out_file}: {len(data)} bytes")


@main.group()
def agency() -> None:
    """Agencies across years."""


@agency.command("alias")
@click.argument("alias")
@click.option("--into", required=True, help="The agency name the alias belongs to.")
@with_settings()
def agency_alias(alias: str, into: str, settings: Settings) -> None:
    """Merge printed name ALIAS into the agency INTO; the cross-year checks are recomputed."""
    from sqlalchemy import select

    from gouji.worker.service.agencies import merge
    from gouji.worker.store.db import session
    from gouji.worker.store.models import CrossYearCheck

    with session(settings.database_url) as s:
        target = merge(s, alias, into)
        rows = s.scalars(select(CrossYearCheck).where(CrossYearCheck.agency_id == target.id)).all()
        click.echo(f"{alias} → {target.name}: {len(rows)} cross-year comparison(s)")
        for r in rows:
            click.echo(f"    {r.year_prev} → {r.year}: {len(r.checks)} checks, {r.failed} failed")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@with_settings()
def db_upgrade(settings: Settings) -> None:
    """Create or migrate the schema to the newest version."""
    from gouji.worker.store.db import upgrade

    upgrade(settings.database_url)
    click.echo(f"{settings.database_url}: schema up to date")


if __name__ == "__main__":
    main()
