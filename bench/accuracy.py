"""Cell accuracy of the deterministic extractor against the hand-checked gold, per file and overall.

A cell is right when status and value both equal the gold's. Wrong cells are split into *silent errors*
(we reported a number and it is not the gold's — the failure that matters) and *refusals* (we said
unparseable/missing where the gold has a value: the text alone did not determine it, and a reviewer
will be asked). Usage: python bench/accuracy.py [--corpus DIR] [--synthetic N]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import DEFAULT, reports, write_result
from gouji.worker.read import read_document
from gouji.worker.stages import read_report
from gouji.worker.synth.generate import write_corpus


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cells = sum(r["cells"] for r in rows)
    right = sum(r["right"] for r in rows)
    return {
        "cells": cells,
        "right": right,
        "silent_errors": sum(r["silent_errors"] for r in rows),
        "refused": sum(r["refused"] for r in rows),
        "accuracy": right / cells,
    }


def _line(name: str, template: str, t: dict[str, Any]) -> str:
    return (
        f"{name:28} {template:5} {t['cells']:6} {t['right']:6} {t['silent_errors']:6} {t['refused']:7}"
        f" {t['accuracy']:8.2%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    ap.add_argument("--synthetic", type=int, metavar="N", help="score N generated reports per style instead")
    args = ap.parse_args()
    corpus, name = args.corpus, "accuracy"
    if args.synthetic:
        corpus, name = Path(tempfile.mkdtemp(prefix="gouji-synth-")), "accuracy_synthetic"
        write_corpus(corpus, args.synthetic, seed=1000)
    rows = []
    for path, gold in reports(corpus):
        report = read_report(read_document(path))
        got = report.cells_document()["cells"]
        right = silent = refused = 0
        misses = []
        for key, g in gold["cells"].items():
            c = got.get(key)
            if c is not None and c["status"] == g["status"] and c["value"] == g["value"]:
                right += 1
                continue
            if c is not None and c["status"] == "reported":
                silent += 1
            else:
                refused += 1
            misses.append(
                {
                    "key": key,
                    "gold": g["value"],
                    "got": None if c is None else c["value"],
                    "status": None if c is None else c["status"],
                }
            )
        claims_gold = {(c["kind"], c["value"]) for c in gold.get("narrative_claims", []) if c["kind"] != "other"}
        claims_got = {(f.kind, f.value) for f in report.narrative_facts}
        rows.append(
            {
                "file": path.name,
                "template": report.template_version,
                "gold_template": gold["template_version"],
                "cells": len(gold["cells"]),
                "right": right,
                "silent_errors": silent,
                "refused": refused,
                "accuracy": right / len(gold["cells"]),
                "claims_found": len(claims_gold & claims_got),
                "claims_gold": len(claims_gold),
                "misses": misses,
            }
        )
    overall = _totals(rows)
    header = f"{'':28} {'tmpl':5} {'cells':>6} {'right':>6} {'silent':>6} {'refused':>7} {'accuracy':>8}"
    if args.synthetic:  # one line per rendering style: the files are many and alike
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r["file"].split("-")[2], []).append(r)
        print(header.replace(" " * 28, f"{'style':28}", 1))
        for style, rs in sorted(groups.items()):
            print(_line(style + f" ({len(rs)} reports)", "", _totals(rs)))
    else:
        print(header.replace(" " * 28, f"{'file':28}", 1) + f" {'claims':>7}")
        for r in rows:
            print(_line(r["file"], r["template"], r) + f" {r['claims_found']:>3}/{r['claims_gold']:<3}")
    print(_line("overall", "", overall))
    target = write_result(name, {"python": platform.python_version(), "overall": overall, "files": rows})
    print(f"written to {target}")


if __name__ == "__main__":
    main()
