"""Speed and memory of the deterministic path (read + extract + validate) on one core.

The shared corpus's text/markdown/HTML reports are repeated until at least --docs documents have been
processed; prints ms per report (median, p95) and peak memory, and writes bench/results/speed.json.
Usage: python bench/speed.py [--docs 500] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import DEFAULT, reports, write_result
from gouji.worker.read import read_document
from gouji.worker.stages import read_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    paths = [p for p, _ in reports(args.corpus)]
    for p in paths:  # warm imports and regex caches
        read_report(read_document(p))
    times: list[float] = []
    per_file: dict[str, list[float]] = {p.name: [] for p in paths}
    i = 0
    while len(times) < args.docs:
        p = paths[i % len(paths)]
        t0 = time.perf_counter()
        read_report(read_document(p))
        dt = (time.perf_counter() - t0) * 1000
        times.append(dt)
        per_file[p.name].append(dt)
        i += 1
    times.sort()
    per_file_median = {k: statistics.median(v) for k, v in per_file.items()}
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "docs": len(times),
        "median_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "max_ms": times[-1],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "per_file_median_ms": per_file_median,
    }
    print(f"{'file':28} {'median ms':>10}")
    for k, v in per_file_median.items():
        print(f"{k:28} {v:10.2f}")
    print(
        f"{'all ' + str(len(times)) + ' docs':28} {result['median_ms']:10.2f}   p95 {result['p95_ms']:.2f} ms   "
        f"peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    print(f"written to {write_result('speed', result)}")


if __name__ == "__main__":
    main()
