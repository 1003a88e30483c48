"""The LLM path against our OpenAI-compatible server on loopback: tokens, throughput, silent errors.

1. Tokens: input tokens (as the server counts them) and characters sent per report, against a
   whole-document baseline (one call carrying the whole report and all three tables' instructions).
2. Throughput: >= 200 reports with a fixed latency per call and a provider concurrency cap; the ceiling is
   calls x latency / concurrency; reported as the share of the ceiling reached.
3. Silent errors: value faults injected into the model's answers (>= 1,000); a fault is *silent* when the
   faulty value ends up in the report without a review flag. Counted separately for cells covered by an
   identity or by the deterministic reading (target 0) and the rest.

Usage: python bench/llm.py [--reports 200] [--latency 2.0] [--concurrency 8] [--faults 1000]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._corpus import DEFAULT, reports, write_result
from gouji.prompts import system_prompt, task_prompt
from gouji.schemas.llm import TABLES
from gouji.schemas.report import Report
from gouji.schemas.rules import evaluate
from gouji.schemas.template import Version
from gouji.worker.llm.client import schema_json
from gouji.worker.llm.config import LLMConfig
from gouji.worker.llm.fusion import routes_to_review
from gouji.worker.read import NormalisedDoc, read_bytes, read_document
from gouji.worker.stages import read_report
from gouji.worker.synth.generate import synthesize
from gouji.worker.synth.kinds import STYLES
from tests.fake_openai import FakeLLM, prompt_tokens


def corpus_docs(corpus: Path) -> list[tuple[str, NormalisedDoc, dict[str, Any]]]:
    return [(p.stem, read_document(p), g["cells"]) for p, g in reports(corpus)]


def synthetic_docs(n: int, seed: int) -> list[tuple[str, NormalisedDoc, dict[str, Any]]]:
    out = []
    for i in range(n):
        s = synthesize(seed + i, STYLES[i % len(STYLES)])
        out.append((s.name, read_bytes(s.text.encode("utf-8"), s.name + s.suffix), s.gold["cells"]))
    return out


def config(fake: FakeLLM, **kw: Any) -> LLMConfig:
    return LLMConfig(base_url=fake.base_url, model="fake", mode="json_schema", backoff_s=0.05, **kw)


def _body(version: Version, user: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [{"role": "system", "content": system_prompt(version)}, {"role": "user", "content": user}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "baseline", "schema": schema}},
    }


def token_table(docs: list[tuple[str, NormalisedDoc, dict[str, Any]]]) -> dict[str, Any]:
    """Ours against two whole-document baselines: the same three calls each carrying the whole report
    (what "send only each table's text" saves), and one call carrying everything."""
    rows = []
    with FakeLLM() as fake:
        for name, doc, gold in docs:
            fake.register(doc.text, gold, name=name)
        for name, doc, _ in docs:
            before = len(fake.requests)
            report = read_report(doc, config(fake, max_repairs=0))
            sent = fake.requests[before:]
            version: Version = report.template_version if report.template_version != "unknown" else "2021"
            schemas = {t: json.loads(schema_json(t, version)) for t in TABLES}
            per_table = [_body(version, task_prompt(t, version, doc.text), schemas[t]) for t in TABLES]
            single = _body(
                version,
                "\n".join(task_prompt(t, version, "") for t in TABLES) + doc.text,
                {"type": "object", "properties": schemas},
            )
            rows.append(
                {
                    "report": name,
                    "calls": len(sent),
                    "tokens": sum(prompt_tokens(r.body) for r in sent),
                    "chars": sum(len(m["content"]) for r in sent for m in r.body["messages"]),
                    "baseline_tokens": sum(prompt_tokens(b) for b in per_table),
                    "baseline_chars": sum(len(m["content"]) for b in per_table for m in b["messages"]),
                    "single_call_tokens": prompt_tokens(single),
                }
            )
    keys = ("tokens", "chars", "baseline_tokens", "baseline_chars", "single_call_tokens")
    total: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    for r in [*rows, total]:
        r["ratio"] = r["tokens"] / r["baseline_tokens"]
        r["chars_ratio"] = r["chars"] / r["baseline_chars"]
        r["single_call_ratio"] = r["tokens"] / r["single_call_tokens"]
    print(
        f"{'report':34} {'calls':>5} {'tokens':>7} {'chars':>7} {'baseline':>8} {'ratio':>6} {'1-call':>7} {'ratio':>6}"
    )
    for r in [*rows, {"report": "all", "calls": "", **total}]:
        print(
            f"{r['report']:34} {r['calls']:>5} {r['tokens']:7} {r['chars']:7} {r['baseline_tokens']:8} "
            f"{r['ratio']:6.1%} {r['single_call_tokens']:7} {r['single_call_ratio']:6.1%}"
        )
    return {"reports": rows, "total": total}


def throughput(n: int, latency: float, concurrency: int) -> dict[str, Any]:
    docs = synthetic_docs(n, seed=20_000)
    with FakeLLM(latency=latency, concurrency=concurrency) as fake:
        for name, doc, gold in docs:
            fake.register(doc.text, gold, name=name)
        cfg = config(fake, max_in_flight=concurrency, concurrency=3)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency * 2) as pool:
            list(pool.map(lambda d: read_report(d[1], cfg), docs))
        wall = time.perf_counter() - started
        calls = sum(1 for r in fake.requests if r.status == 200)
        rejected = sum(1 for r in fake.requests if r.status == 429)
    ceiling = calls * latency / concurrency
    result = {
        "reports": n,
        "latency_s": latency,
        "concurrency": concurrency,
        "calls": calls,
        "rejected_429": rejected,
        "wall_s": round(wall, 2),
        "ceiling_s": round(ceiling, 2),
        "efficiency": ceiling / wall,
        "reports_per_s": n / wall,
    }
    print(
        f"throughput: {n} reports, {calls} calls of {latency}s at concurrency {concurrency}: {wall:.1f}s wall vs "
        f"{ceiling:.1f}s ceiling = {result['efficiency']:.1%} of the ceiling ({rejected} calls rejected with 429)"
    )
    return result


def _covered(report: Report) -> set[str]:
    """Cells in at least one evaluated identity (of the final report)."""
    layout = report.layout_obj()
    if layout is None:
        return set()
    return {
        k
        for r in evaluate(report.flat_cells(), layout)
        if r.status != "skipped" and r.lhs is not None
        for k in r.operands
    }


def silent_errors(corpus: Path, target: int, rate: float) -> dict[str, Any]:
    docs = corpus_docs(corpus) + synthetic_docs(60, seed=30_000)
    counts = {"injected": 0, "caught": 0, "silent_covered": 0, "silent_uncovered": 0}
    silent: list[dict[str, Any]] = []
    passes = 0
    with FakeLLM() as fake:
        for name, doc, gold in docs:
            fake.register(doc.text, gold, name=name)
        while counts["injected"] < target and passes < 50:
            fake.set_value_fault_rate(rate, seed=passes)
            for name, doc, _ in docs:
                before = len(fake.injected)
                report = read_report(doc, config(fake, token_budget=10**9))
                cells = report.flat_cells()
                covered = _covered(report)
                det_read = {k for k, c in cells.items() if "deterministic" in c.support}
                for inj in fake.injected[before:]:
                    for ch in inj.changes:
                        if ch.key not in cells or ch.new_status == "omitted":
                            continue  # an omitted cell is no wrong number: the rules' reading stays
                        counts["injected"] += 1
                        cell = cells[ch.key]
                        if ch.new_status == "reported":
                            accepted = cell.status == "reported" and ch.new is not None and _same(cell.value, ch.new)
                        else:  # a printed number turned into a blank or dash
                            accepted = ch.old_status == "reported" and cell.status == ch.new_status
                        if not accepted or routes_to_review(cell):
                            counts["caught"] += 1
                            continue
                        where = "silent_covered" if ch.key in covered or ch.key in det_read else "silent_uncovered"
                        counts[where] += 1
                        silent.append(
                            {
                                "report": name,
                                "kind": inj.kind,
                                "key": ch.key,
                                "old": ch.old,
                                "new": ch.new,
                                "where": where,
                            }
                        )
            passes += 1
    print(
        f"silent errors: {counts['injected']} value faults injected over {passes} passes; "
        f"{counts['silent_covered']} accepted silently where an identity or the rules cover the cell (target 0), "
        f"{counts['silent_uncovered']} elsewhere"
    )
    return counts | {"passes": passes, "examples": silent[:50]}


def _same(value: Any, text: str) -> bool:
    try:
        return Decimal(str(value)) == Decimal(text)
    except ArithmeticError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=DEFAULT)
    ap.add_argument("--reports", type=int, default=200)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--faults", type=int, default=1000)
    ap.add_argument("--fault-rate", type=float, default=0.5, help="share of answers that carry a value fault")
    args = ap.parse_args()
    result = {
        "python": platform.python_version(),
        "tokens": token_table(corpus_docs(args.corpus)),
        "throughput": throughput(args.reports, args.latency, args.concurrency),
        "silent_errors": silent_errors(args.corpus, args.faults, args.fault_rate),
    }
    print(f"written to {write_result('llm', json.loads(json.dumps(result, default=str)))}")


if __name__ == "__main__":
    main()
