"""The service under load, on this machine: workers against the embedded mode, and the API's read latency.

1. N generated reports (default 1,000) processed in-process into SQLite (the embedded default), then the
   same through Celery: an own redis-server, a fresh PostgreSQL database, `gouji worker -c 2` (two worker
   processes). Documents per second and p95 end-to-end latency (stored → final state) for each, and the
   ratio; resident memory per worker process, sampled while it works.
2. The API: `gouji serve` on the embedded database, 50 concurrent clients reading reports; p95 latency.

Usage: python bench/service.py [--docs 1000] [--clients 50] [--requests 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psycopg
from sqlalchemy import select

from bench._corpus import write_result
from gouji.worker.service.pipeline import add_document, batch, process
from gouji.worker.service.tokens import create_token
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document
from gouji.worker.synth.generate import write_corpus

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("GOUJI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[int(0.95 * (len(xs) - 1))]


def latencies(db: str) -> tuple[list[float], float]:
    with session(db) as s:
        rows = list(s.execute(select(Document.created_at, Document.updated_at)).all())
    lat = [(u - c).total_seconds() for c, u in rows]
    span = (max(u for _, u in rows) - min(c for c, _ in rows)).total_seconds()
    return lat, span


def embedded(files: list[Path], db: str) -> dict[str, Any]:
    started = time.perf_counter()
    for f in files:
        with session(db) as s:
            doc, _ = add_document(s, f.read_bytes(), f.name, batch(s, "bench"))
            process(s, doc, Settings())
    wall = time.perf_counter() - started
    lat, _ = latencies(db)
    return {
        "docs": len(files),
        "wall_s": round(wall, 2),
        "docs_per_s": len(files) / wall,
        "p95_latency_s": p95(lat),
        "median_latency_s": statistics.median(lat),
    }


def rss_mib(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


def children(pid: int) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().split()[3]) == pid:
                    found.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def with_workers(corpus: Path, n: int, tmp: Path) -> dict[str, Any]:
    name = f"gouji_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp)], stdout=subprocess.DEVNULL
    )
    env = dict(os.environ, GOUJI_DATABASE_URL=db, GOUJI_BROKER_URL=f"redis://127.0.0.1:{port}/0")
    time.sleep(0.5)
    worker = subprocess.Popen(
        [sys.executable, "-m", "gouji.api.cli", "worker", "-c", "2", "--loglevel", "WARNING"],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)
        subprocess.run(
            [sys.executable, "-m", "gouji.api.cli", "ingest", str(corpus), "--batch", "bench"],
            env=env,
            cwd=ROOT,
            check=False,
            capture_output=True,
        )
        rss: list[float] = []
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            rss += rss_mib(children(worker.pid))
            with session(db) as s:
                left = s.scalar(select(Document.id).where(Document.state == "received").limit(1))
            if left is None:
                break
            time.sleep(1)
        lat, span = latencies(db)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        redis.terminate()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        "docs": n,
        "workers": 2,
        "wall_s": round(span, 2),
        "docs_per_s": n / span,
        "p95_latency_s": p95(lat),
        "median_latency_s": statistics.median(lat),
        "worker_rss_mib_max": max(rss, default=0.0),
    }


@contextmanager
def serving(db: str, workers: int = 1) -> Iterator[str]:
    """`gouji serve` on `db` in its own process, ready; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gouji.api.cli",
            "serve",
            "--port",
            str(port),
            "--db",
            db,
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def api(db: str, clients: int, total: int) -> dict[str, Any]:
    with serving(db, workers=2) as base:
        with session(db) as s:
            ids = list(s.scalars(select(Document.id)))
            auth = {"Authorization": f"Bearer {create_token(s, 'bench-reader', 'viewer')}"}  # reads need a token
        times: list[float] = []

        def client(k: int) -> list[float]:
            out = []
            rng = random.Random(k)
            with httpx.Client(base_url=base, timeout=30, headers=auth) as c:
                for _ in range(total // clients):
                    t0 = time.perf_counter()
                    r = c.get(f"/documents/{rng.choice(ids)}/report")
                    out.append(time.perf_counter() - t0)
                    assert r.status_code == 200
            return out

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for ts in pool.map(client, range(clients)):
                times += ts
        wall = time.perf_counter() - started
        result: dict[str, Any] = {
            "clients": clients,
            "requests": len(times),
            "p95_ms": p95(times) * 1000,
            "median_ms": statistics.median(times) * 1000,
            "requests_per_s": len(times) / wall,
        }
        if shutil.which("wrk"):  # a C load generator takes far less of the 2 cores than 50 Python threads
            result["wrk"] = [wrk(base, clients, max(ids), gzip, auth) for gzip in (False, True)]
    return result


def wrk(base: str, clients: int, max_id: int, gzip: bool, auth: dict[str, str]) -> dict[str, Any]:
    script = Path(tempfile.mkdtemp()) / "reports.lua"
    script.write_text(
        "math.randomseed(7)\nrequest = function()\n"
        f'  return wrk.format("GET", "/documents/" .. math.random(1, {max_id}) .. "/report")\nend\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("p95_us %d\\n", latency:percentile(95)))\nend\n'
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", "-d10s", "--latency", "-s", str(script), base]
        + [a for k, v in auth.items() for a in ("-H", f"{k}: {v}")]
        + (["-H", "Accept-Encoding: gzip"] if gzip else []),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dist = {m[0]: _ms(m[1]) for m in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M)}
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p95_us = re.search(r"^p95_us (\d+)$", out, re.M)
    return {
        "connections": clients,
        "gzip": gzip,
        "p50_ms": dist.get("50"),
        "p90_ms": dist.get("90"),
        "p95_ms": int(p95_us.group(1)) / 1000 if p95_us else None,
        "p99_ms": dist.get("99"),
        "requests_per_s": float(found.group(1)) if found else None,
    }


def _ms(text: str) -> float:
    found = re.match(r"([\d.]+)(\w+)", text)
    assert found is not None
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gouji-service-"))
    files = write_corpus(tmp / "corpus", max(args.docs // 4, 1), seed=777)[: args.docs]
    emb_db = f"sqlite:///{tmp / 'embedded.db'}"
    emb = embedded(files, emb_db)
    print(
        f"embedded (in-process, SQLite): {emb['docs']} docs in {emb['wall_s']} s = {emb['docs_per_s']:.1f} docs/s, "
        f"p95 latency {emb['p95_latency_s'] * 1000:.0f} ms"
    )
    work = with_workers(tmp / "corpus" / "reports", len(files), tmp)
    print(
        f"Celery (2 workers, Redis, PostgreSQL): {work['docs']} docs in {work['wall_s']} s = "
        f"{work['docs_per_s']:.1f} docs/s, p95 end-to-end {work['p95_latency_s']:.1f} s, "
        f"max RSS per worker process {work['worker_rss_mib_max']:.0f} MiB"
    )
    ratio = work["docs_per_s"] / emb["docs_per_s"]
    print(f"workers / embedded throughput: {ratio:.2f}")
    reads = api(emb_db, args.clients, args.requests)
    print(
        f"API GET /documents/{{id}}/report, {reads['clients']} clients: p95 {reads['p95_ms']:.1f} ms, "
        f"median {reads['median_ms']:.1f} ms, {reads['requests_per_s']:.0f} req/s"
    )
    for w in reads.get("wrk", []):
        print(
            f"  with wrk ({w['connections']} connections{', gzip' if w['gzip'] else ''}): p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms, "
            f"p99 {w['p99_ms']} ms, {w['requests_per_s']} req/s"
        )
    result = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "embedded": emb,
        "workers": work,
        "workers_over_embedded": ratio,
        "api": reads,
    }
    print(f"written to {write_result('service', result)}")


if __name__ == "__main__":
    main()
