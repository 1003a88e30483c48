"""What an operator sees: where the server listens and what it serves, secrets never printed, counts of
the batch asked about, the inputs `extract` takes, and a comparison that says when years are apart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, postgres_database
from tests.test_celery import free_port

EXAMPLES = ROOT / "examples" / "reports"


def gouji(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gouji.api.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=env or {k: v for k, v in os.environ.items() if not k.startswith("GOUJI_")},
    )


def test_serve_says_where_it_listens_and_logs_requests(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gouji.api.cli", "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 's.db'}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(0.3)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    text = log.read_text()
    assert f"http://127.0.0.1:{port}/" in text and "reads need a token" in text
    assert '"GET /healthz HTTP/1.1" 200' in text


def test_ingest_never_prints_a_password() -> None:
    for url in postgres_database():
        with_password = url.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cret@")
        r = gouji("ingest", str(EXAMPLES / "synth-2021-lines-7.txt"), "--db", with_password, "--batch", "p")
        assert r.returncode == 0, r.stderr
        assert "s3cret" not in r.stdout + r.stderr and "postgres:***@" in r.stdout


def test_status_of_a_batch_counts_only_that_batch(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'st.db'}"
    gouji("ingest", str(EXAMPLES), "--db", db, "--batch", "all")  # the flat one waits for review
    (tmp_path / "empty.txt").write_bytes(b"")
    gouji("ingest", str(EXAMPLES / "synth-2021-lines-7.txt"), str(tmp_path / "empty.txt"), "--db", db, "--batch", "b")
    lines = gouji("status", "--batch", "b", "--db", db).stdout.splitlines()
    assert lines[0] == "batch b: 1 accepted, 1 failed"
    assert lines[1] == "open review tasks: 0"  # the review task belongs to batch "all"
    assert [x for x in lines if x.startswith("failure:")] == ["failure: empty.txt: read: empty file"]
    assert "open review tasks: 1" in gouji("status", "--batch", "all", "--db", db).stdout


def test_extract_help_lists_every_input_kind() -> None:
    text = gouji("extract", "--help").stdout
    for kind in (".txt", ".md", ".html", ".pdf", ".png", ".tif", ".docx", ".doc", ".wps", "OCR"):
        assert kind in text, kind


def test_compare_says_when_the_years_are_not_consecutive(tmp_path: Path) -> None:
    gold = json.loads((ROOT / "examples" / "gold" / "synth-2021-lines-7.json").read_text(encoding="utf-8"))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(gold), encoding="utf-8")
    b.write_text(json.dumps(gold), encoding="utf-8")
    assert "not consecutive" not in gouji("compare", str(a), str(b)).stdout  # no years known: nothing to say
    r = gouji(
        "extract", str(EXAMPLES / "synth-2021-lines-7.txt"), str(EXAMPLES / "cq-scjgj-2020.txt"), "-o", str(tmp_path)
    )
    assert r.returncode in (0, 1), r.stderr
    r = gouji("compare", str(tmp_path / "cq-scjgj-2020.json"), str(tmp_path / "synth-2021-lines-7.json"))
    years = (
        json.loads((tmp_path / "cq-scjgj-2020.json").read_text())["report"].get("report_year"),
        json.loads((tmp_path / "synth-2021-lines-7.json").read_text())["report"].get("report_year"),
    )
    assert None not in years and years[1] != years[0] + 1, years
    assert "not consecutive" in r.stdout
