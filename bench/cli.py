"""How fast the command line answers: wall time of `gouji --help` and of a command's help, in fresh
processes (what a user waits for), median and p95 over many runs.

    python bench/cli.py [--runs 30] [--compare /path/to/another/gouji]

`--compare` times another installation's `gouji` in the same run (an older checkout's venv, say), so the
two are measured on the same machine under the same load.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import write_result

COMMANDS = (["--help"], ["ingest", "--help"], ["extract", "--help"])


def timed(exe: str, argv: list[str], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([exe, *argv], check=True, capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--compare", help="another gouji executable to time in the same run")
    args = ap.parse_args()
    ours = shutil.which("gouji", path=str(Path(sys.executable).parent)) or "gouji"
    exes = {"this checkout": ours} | ({"compared": args.compare} if args.compare else {})
    rows: list[dict[str, Any]] = []
    for argv in COMMANDS:
        for label, exe in exes.items():
            rows.append({"gouji": label, "command": " ".join(argv), **timed(exe, argv, args.runs)})
    print(f"{'gouji':14} {'command':16} {'median ms':>10} {'p95 ms':>8}")
    for r in rows:
        print(f"{r['gouji']:14} {r['command']:16} {r['median_ms']:10.0f} {r['p95_ms']:8.0f}")
    target = write_result(
        "cli",
        {"python": platform.python_version(), "runs": args.runs, "compared": args.compare, "rows": rows},
    )
    print(f"written to {target}")


if __name__ == "__main__":
    main()
