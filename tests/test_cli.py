"""The `gouji` command as a user runs it: a real subprocess, real files, exit codes and messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from gouji.schemas.report import Report
from tests.conftest import ROOT, SHARED, gold_for, needs_corpus

SEED = ROOT / "examples" / "reports" / "cq-scjgj-2020.txt"


def gouji(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gouji.api.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_console_script_is_installed() -> None:
    exe = shutil.which("gouji")
    if exe is None:
        pytest.skip("package not installed in this environment")
    assert subprocess.run([exe, "--help"], capture_output=True, text=True).returncode == 0


def test_extract_seed_reports_prose_conflict(tmp_path: Path) -> None:
    r = gouji("extract", SEED, "-o", tmp_path, "-v")
    assert r.returncode == 1, r.stderr  # a check failed: the prose's 77 vs the table's 165
    assert "cq-scjgj-2020.txt: template 2019, 198/198 cells read" in r.stdout
    assert "N.received" in r.stdout and "77 ≠ 165" in r.stdout
    report = Report.model_validate_json((tmp_path / "cq-scjgj-2020.json").read_text(encoding="utf-8"))
    assert report.flat_cells()["applications.new_received.total"].value == 165


def test_extract_cells_format_matches_cell_keys(tmp_path: Path) -> None:
    r = gouji("extract", SEED, "-o", tmp_path, "--format", "cells")
    assert r.returncode == 1
    doc = json.loads((tmp_path / "cq-scjgj-2020.json").read_text(encoding="utf-8"))
    gold = json.loads((ROOT / "examples" / "gold" / "cq-scjgj-2020.json").read_text(encoding="utf-8"))
    assert doc["template_version"] == "2019"
    assert set(doc["cells"]) == set(gold["cells"])
    for key, g in gold["cells"].items():
        assert {k: doc["cells"][key][k] for k in ("value", "status", "raw")} == {
            k: g[k] for k in ("value", "status", "raw")
        }


def test_bad_inputs_are_named_and_do_not_stop_the_batch(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 20)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%...")
    out = tmp_path / "out"
    r = gouji("extract", empty, junk, SEED, pdf, tmp_path / "nope.txt", "-o", out)
    assert r.returncode == 2
    for name in ("empty.txt", "junk.txt", "scan.pdf", "nope.txt"):
        assert name in r.stderr
    assert (out / "cq-scjgj-2020.json").exists()
    assert sorted(p.name for p in out.iterdir()) == ["cq-scjgj-2020.json"]


@needs_corpus
def test_not_a_report_is_refused(tmp_path: Path) -> None:
    r = gouji("extract", SHARED / "not_reports" / "pingtan-2014-letter.txt", "-o", tmp_path)
    assert r.returncode == 2
    assert "refused (not_a_report)" in r.stdout


def _extracted(tmp_path: Path, source: Path) -> Path:
    gouji("extract", source, "-o", tmp_path)
    return tmp_path / f"{source.stem}.json"


@needs_corpus
def test_validate_hand_edit_shows_failures_and_fix(tmp_path: Path) -> None:
    source = SHARED / "reports" / "hongze-2024.txt"
    path = _extracted(tmp_path, source)
    data = json.loads(path.read_text(encoding="utf-8"))
    cell = data["applications"]["rows"]["disclosed"]["cells"]["natural_person"]
    assert cell["value"] == 50
    cell["value"] = 5  # a reviewer's slip: one digit dropped
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = gouji("validate", path, "--source", source)
    assert r.returncode == 1
    assert "T3.row_total" in r.stdout and "T3.outcome_total" in r.stdout
    assert "G.grounded" in r.stdout  # the edited value is no longer the number printed at its span
    assert "fix?    applications.disclosed.natural_person: 5 → 50" in r.stdout


@needs_corpus
def test_validate_clean_report_passes(tmp_path: Path) -> None:
    source = SHARED / "reports" / "shuyang-fgj-2023.html"
    r = gouji("validate", _extracted(tmp_path, source), "--source", source)
    assert r.returncode == 0, r.stdout
    assert "all checks pass" in r.stdout


def test_validate_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"template_version": "1999"}', encoding="utf-8")
    r = gouji("validate", bad)
    assert r.returncode == 2
    assert "bad.json" in r.stderr and "template_version" in r.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert gouji("validate", broken).returncode == 2


@needs_corpus
def test_validate_refuses_a_different_source(tmp_path: Path) -> None:
    path = _extracted(tmp_path, SHARED / "reports" / "hongze-2024.txt")
    r = gouji("validate", path, "--source", SHARED / "reports" / "hongze-2023.txt")
    assert r.returncode == 2 and "text_sha256" in r.stderr


@needs_corpus
def test_compare_consecutive_years(tmp_path: Path) -> None:
    prev = _extracted(tmp_path, SHARED / "reports" / "hongze-2023.txt")
    cur = _extracted(tmp_path, SHARED / "reports" / "hongze-2024.txt")
    out = tmp_path / "cmp.json"
    r = gouji("compare", prev, cur, "-o", out)
    assert r.returncode == 0, r.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert (doc["year_prev"], doc["year"]) == (2023, 2024)
    ids = {c["id"] for c in doc["checks"]}
    assert {"X.T3.carry", "X.T2_2021.valid"} <= ids
    valid = [c for c in doc["checks"] if c["id"] == "X.T2_2021.valid" and "normative" in json.dumps(c["args"])]
    assert valid and valid[0]["status"] == "pass" and valid[0]["lhs"] == 8  # 5 + 3 − 0 (docs/spec.md §5.5)


def test_compare_flags_a_broken_carry(tmp_path: Path) -> None:
    prev = _extracted(tmp_path, SEED)
    data = json.loads(prev.read_text(encoding="utf-8"))
    data["applications"]["rows"]["carried_forward"]["cells"]["total"]["value"] = 3
    edited = tmp_path / "prev-edited.json"
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = gouji("compare", edited, prev)
    assert r.returncode == 1
    assert "X.T3.carry[column=total]" in r.stdout


def test_schema_validates_extracted_reports(tmp_path: Path) -> None:
    r = gouji("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    sources = [SEED, *sorted((ROOT / "examples" / "reports").iterdir())]
    gouji("extract", *sources, "-o", tmp_path)
    for src in sources:
        jsonschema.validate(json.loads((tmp_path / f"{src.stem}.json").read_text(encoding="utf-8")), schema)


@needs_corpus
def test_examples_gold_of_seed_is_shared_gold() -> None:
    assert json.loads((ROOT / "examples" / "gold" / "cq-scjgj-2020.json").read_text(encoding="utf-8")) == gold_for(
        SHARED / "reports" / "cq-scjgj-2020.txt"
    )


def test_validate_accepts_a_flat_cells_document(tmp_path: Path) -> None:
    gold = json.loads((ROOT / "examples" / "gold" / "cq-scjgj-2020.json").read_text(encoding="utf-8"))
    r = gouji("validate", ROOT / "examples" / "gold" / "cq-scjgj-2020.json")
    assert r.returncode == 0, r.stdout
    gold["cells"]["applications.new_received.natural_person"]["value"] = 195  # transposed digits
    edited = tmp_path / "cells.json"
    edited.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    r = gouji("validate", edited)
    assert r.returncode == 1
    assert "fix?    applications.new_received.natural_person: 195 → 159" in r.stdout
    gold["cells"]["applications.new_received.natral_person"] = gold["cells"].pop(
        "applications.new_received.natural_person"
    )
    edited.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    r = gouji("validate", edited)
    assert r.returncode == 2 and "natral_person" in r.stderr
