"""Where the benchmarks find reports and gold: ../shared/corpus by default, or --corpus DIR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
READABLE = (".txt", ".md", ".html", ".htm")  # PDFs, Word and scans: bench/inputs.py


def reports(corpus: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(report file, gold) for every readable report that has a gold file."""
    out = []
    for path in sorted((corpus / "reports").iterdir()):
        gold = corpus / "gold" / f"{path.stem}.json"
        if path.suffix in READABLE and gold.exists():
            out.append((path, json.loads(gold.read_text(encoding="utf-8"))))
    if not out:
        raise SystemExit(f"{corpus}: no reports with gold found (expected reports/ and gold/ folders)")
    return out


def write_result(name: str, payload: dict[str, Any]) -> Path:
    target = Path(__file__).resolve().parent / "results" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target
