"""Cell accuracy, seconds per page and peak memory of reading messy inputs, by kind of input.

Kinds: text PDF and Word (synthetic), scanned PDF at 300 and 200 dpi, a degraded scan and a phone-photo
TIFF (synthetic, from worker/synth/render.py), and the real PDFs of the shared corpus. Both template versions
alternate. A cell is right when status and value equal the gold's; "numeric" counts only the cells the
gold reports a number for (the target for scans: ≥ 99.5 % exact). Seconds per page = read + extract time
over pages read. Each kind runs in its own process (two at a time, one OCR thread each, as the workers
run), so its peak RSS is its own.
Usage: python bench/inputs.py [--count N] [--scan-count M]
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import DEFAULT, write_result
from gouji.schemas.template import VERSIONS
from gouji.worker.read import read_bytes
from gouji.worker.stages import read_report
from gouji.worker.synth.generate import synthesize
from gouji.worker.synth.kinds import SCAN_KINDS, ScanKind, Style

KINDS: dict[str, tuple[Style, ScanKind]] = {
    "text_pdf": ("pdf", "scan300"),
    "docx": ("docx", "scan300"),
    **{kind: ("scan", kind) for kind in SCAN_KINDS},
}


def score(data: bytes, name: str, gold: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    doc = read_bytes(data, name)
    got = read_report(doc).cells_document()["cells"]
    seconds = time.perf_counter() - t0
    right = numeric = numeric_right = 0
    misses = []
    for key, g in gold["cells"].items():
        c = got.get(key, {})
        ok = (c.get("status"), c.get("value")) == (g["status"], g["value"])
        right += ok
        if g["status"] == "reported":
            numeric += 1
            numeric_right += ok
        if not ok:
            misses.append({"key": key, "gold": g["value"], "got": c.get("value"), "status": c.get("status")})
    return {
        "file": name,
        "pages": max(len(doc.pages), 1),
        "seconds": seconds,
        "cells": len(gold["cells"]),
        "right": right,
        "numeric": numeric,
        "numeric_right": numeric_right,
        "misses": misses,
    }


def run_kind(kind: str, count: int, seed: int) -> dict[str, Any]:
    rows = []
    if kind == "real_pdf":
        import json

        for path in sorted((DEFAULT / "reports").glob("*.pdf")):
            gold = json.loads((DEFAULT / "gold" / f"{path.stem}.json").read_text(encoding="utf-8"))
            rows.append(score(path.read_bytes(), path.name, gold))
    else:
        style, scan = KINDS[kind]
        for i in range(count):
            s = synthesize(seed + i, style, version=VERSIONS[i % 2], scan=scan)
            rows.append(score(s.content, s.name + s.suffix, s.gold))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pages = sum(r["pages"] for r in rows)
    return {
        "kind": kind,
        "reports": len(rows),
        "pages": pages,
        "cells": sum(r["cells"] for r in rows),
        "right": sum(r["right"] for r in rows),
        "numeric": sum(r["numeric"] for r in rows),
        "numeric_right": sum(r["numeric_right"] for r in rows),
        "seconds_per_page": sum(r["seconds"] for r in rows) / pages,
        "peak_rss_mb": round(peak_mb),
        "files": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50, help="synthetic text PDFs and Word files per kind")
    ap.add_argument("--scan-count", type=int, default=13, help="synthetic reports per scan kind (4 kinds)")
    ap.add_argument("--seed", type=int, default=6000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    jobs = [("real_pdf", 0), ("text_pdf", args.count), ("docx", args.count)]
    jobs += [(k, args.scan_count) for k in SCAN_KINDS]
    with ProcessPoolExecutor(max_workers=args.workers, max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_kind, kind, n, args.seed) for kind, n in jobs]
        results = [f.result() for f in futures]
    print(
        f"{'kind':10} {'reports':>7} {'pages':>5} {'cells':>6} {'all exact':>9} {'numeric':>8} {'s/page':>7} {'peak MB':>7}"
    )
    for r in results:
        print(
            f"{r['kind']:10} {r['reports']:7} {r['pages']:5} {r['cells']:6} {r['right'] / r['cells']:9.2%}"
            f" {r['numeric_right'] / r['numeric']:8.2%} {r['seconds_per_page']:7.2f} {r['peak_rss_mb']:7}"
        )
    payload = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "args": vars(args),
        "kinds": results,
    }
    print(f"written to {write_result('inputs', payload)}")


if __name__ == "__main__":
    main()
