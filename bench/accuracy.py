"""Cell accuracy of the deterministic extractor against the hand-checked gold, per file and overall.

A cell is right when status and value both equal the gold's. Wrong cells are split into *silent errors*
(we reported a number and it is not the gold's — the failure that matters) and *refusals* (we said
unparseable/missing where the gold has a value: the text alone did not determine it, and a reviewer
will be asked). Usage: python bench/accuracy.py [--corpus DIR]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import DEFAULT, reports, write_result
from worker.extract.report import extract_report
from worker.normalise import read_document


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    args = ap.parse_args()
    rows = []
    for path, gold in reports(args.corpus):
        report = extract_report(read_document(path))
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
    total = sum(r["cells"] for r in rows)
    overall = {
        "cells": total,
        "right": sum(r["right"] for r in rows),
        "silent_errors": sum(r["silent_errors"] for r in rows),
        "refused": sum(r["refused"] for r in rows),
        "accuracy": sum(r["right"] for r in rows) / total,
    }
    print(
        f"{'file':28} {'tmpl':5} {'cells':>5} {'right':>5} {'silent':>6} {'refused':>7} {'accuracy':>8} {'claims':>7}"
    )
    for r in rows:
        print(
            f"{r['file']:28} {r['template']:5} {r['cells']:5} {r['right']:5} {r['silent_errors']:6} {r['refused']:7}"
            f" {r['accuracy']:8.2%} {r['claims_found']:>3}/{r['claims_gold']:<3}"
        )
    print(
        f"{'overall':28} {'':5} {overall['cells']:5} {overall['right']:5} {overall['silent_errors']:6}"
        f" {overall['refused']:7} {overall['accuracy']:8.2%}"
    )
    target = write_result("accuracy", {"python": platform.python_version(), "overall": overall, "files": rows})
    print(f"written to {target}")


if __name__ == "__main__":
    main()
