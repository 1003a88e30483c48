"""The review UI's server-side speed: rendering a task page, and a cell edit until the checks are back.

A real `gouji serve` (one process) on a SQLite database holding N generated reports, all routed to review
(GOUJI_REVIEW_QA_SHARE=1), plus the shared corpus when it is beside the project. A signed-in reviewer
claims each task, loads its page, then edits one cell and edits it back. The server's own time comes
from its Server-Timing header (render / edit); the client's round trip is measured beside it.
Target (issue 5): < 100 ms on the server side for an edit to return updated checks.

Usage: python bench/review.py [--reports 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._corpus import write_result
from bench.service import p95, serving
from gouji.worker.service.pipeline import add_document, batch, process, request_work
from gouji.worker.service.tokens import create_token
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, ReviewTask
from gouji.worker.synth.generate import write_corpus

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus" / "reports"


def server_ms(response: httpx.Response, name: str) -> float:
    found = re.search(rf"{name};dur=([\d.]+)", response.headers.get("server-timing", ""))
    assert found is not None, response.headers
    return float(found.group(1))


def summary(xs: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(xs), 1), "p95_ms": round(p95(xs), 1), "max_ms": round(max(xs), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reports", type=int, default=40)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gouji-review-"))
    db = f"sqlite:///{tmp / 'review.db'}"
    files = write_corpus(tmp / "corpus", max(args.reports // 4, 1), seed=99)[: args.reports]
    files += sorted(p for p in SHARED.glob("*") if p.suffix in (".txt", ".md", ".html")) if SHARED.exists() else []
    every_report = Settings(review_qa_share=1)  # every report has a task, clean ones as a QA sample
    with session(db) as s:
        for f in files:
            doc, _ = add_document(s, f.read_bytes(), f.name, batch(s, "bench"))
            request_work(doc, None)
            process(s, doc, every_report)
        token = create_token(s, "bench", "reviewer")
        tasks = [(t.id, d.file_name) for t, d in s.query(ReviewTask, Document).join(Document).order_by(ReviewTask.id)]
    render_server, render_client, edit_server, edit_client = [], [], [], []
    with serving(db) as base, httpx.Client(base_url=base, timeout=30) as c:
        form = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert form is not None
        c.post("/login", data={"token": token, "csrf": form.group(1)})
        for task_id, _ in tasks:
            page = c.get(f"/review/tasks/{task_id}").text
            csrf = re.search(r'data-csrf="([^"]+)"', page)
            assert csrf is not None
            c.post(f"/review/tasks/{task_id}/claim", data={"csrf": csrf.group(1)})
            t0 = time.perf_counter()
            r = c.get(f"/review/tasks/{task_id}")
            render_client.append((time.perf_counter() - t0) * 1000)
            render_server.append(server_ms(r, "render"))
            found = re.search(r'data-key="([^"]+)"[^>]*value="(\d+)"', r.text)
            if found is None:
                continue
            key, value = found.groups()
            for new in (str(int(value) + 1), value):
                t0 = time.perf_counter()
                e = c.post(
                    f"/review/tasks/{task_id}/cells",
                    data={"key": key, "value": new, "reason": "benchmark edit"},
                    headers={"X-CSRF-Token": csrf.group(1)},
                )
                edit_client.append((time.perf_counter() - t0) * 1000)
                assert e.status_code == 200, e.text
                assert e.json()["values"][key] == new
                edit_server.append(server_ms(e, "edit"))
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "tasks": len(tasks),
        "edits": len(edit_server),
        "render_task_page": {"server": summary(render_server), "client": summary(render_client)},
        "edit_to_checks": {"server": summary(edit_server), "client": summary(edit_client)},
        "target_edit_server_ms": 100,
    }
    print(f"{len(tasks)} tasks, {len(edit_server)} edits (one gouji serve process, SQLite)")
    print(f"{'':28}{'median':>10}{'p95':>10}{'max':>10}")
    for label, key in (("task page render", "render_task_page"), ("edit → updated checks", "edit_to_checks")):
        for side in ("server", "client"):
            row = result[key][side]
            print(f"{label + ' (' + side + ')':28}{row['median_ms']:>8} ms{row['p95_ms']:>7} ms{row['max_ms']:>7} ms")
    print(f"written to {write_result('review', result)}")


if __name__ == "__main__":
    main()
