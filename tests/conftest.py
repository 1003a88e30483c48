"""Shared fixtures: where the shared corpus is (tests that need it skip cleanly without it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
READABLE = (".txt", ".md", ".html")


def corpus_reports() -> list[Path]:
    if not (SHARED / "reports").is_dir():
        return []
    return sorted(p for p in (SHARED / "reports").iterdir() if p.suffix in READABLE)


def gold_for(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / "gold" / f"{path.stem}.json").read_text(encoding="utf-8"))
    return data


needs_corpus = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/corpus not present")
