"""The cost ledger: every call's tokens, latency and outcome, per document, table and purpose.

Attempts are recorded one by one (not summed on the fly) so a bill can be explained: which table cost
what, how many re-asks a model needed, where the time went. The document's token budget is enforced
from the same numbers, so the ledger and the limit can never disagree.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Purpose = Literal["read", "reask", "repair"]


@dataclass(frozen=True)
class Attempt:
    table: str
    purpose: Purpose
    input_tokens: int
    output_tokens: int
    latency_s: float
    outcome: str  # "ok" or an LLMError kind
    http_attempts: int = 1


class Ledger:
    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._attempts: list[Attempt] = []
        self._lock = threading.Lock()

    def add(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    @property
    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def spent(self) -> int:
        return sum(a.input_tokens + a.output_tokens for a in self.attempts)

    def remaining(self) -> int:
        return self.budget - self.spent()

    def summary(self, model: str, prices: Mapping[str, tuple[float, float]]) -> dict[str, Any]:
        attempts = self.attempts
        tokens_in = sum(a.input_tokens for a in attempts)
        tokens_out = sum(a.output_tokens for a in attempts)
        price = prices.get(model)
        cost = None if price is None else round((tokens_in * price[0] + tokens_out * price[1]) / 1e6, 6)
        per_table: dict[str, dict[str, float]] = {}
        for a in attempts:
            t = per_table.setdefault(a.table, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "latency_s": 0.0})
            t["calls"] += 1
            t["input_tokens"] += a.input_tokens
            t["output_tokens"] += a.output_tokens
            t["latency_s"] = round(t["latency_s"] + a.latency_s, 3)
        return {
            "calls": len(attempts),
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "latency_s": round(sum(a.latency_s for a in attempts), 3),
            "cost_usd": cost,
            "budget": self.budget,
            "per_table": per_table,
            "attempts": [asdict(a) for a in attempts],
        }
