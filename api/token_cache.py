"""Token checks for the JSON API, kept per process for a few seconds.

The hottest endpoint (a stored report) answers in well under a millisecond of database time; a token
lookup on every request would double that. A lookup is therefore remembered for `ttl` seconds: a revoked
or expired token stops working within that time, which the README states.
"""

from __future__ import annotations

import threading
import time

from gouji.worker.service.tokens import Holder, hash_token, lookup
from gouji.worker.store.db import session

DEFAULT_TTL_S = 5.0


class TokenCache:
    def __init__(self, db_url: str, ttl_s: float = DEFAULT_TTL_S, max_entries: int = 10_000) -> None:
        self._db_url = db_url
        self._ttl = ttl_s
        self._max = max_entries
        self._seen: dict[str, tuple[float, Holder | None]] = {}
        self._lock = threading.Lock()

    def holder(self, token: str) -> Holder | None:
        """Who `token` belongs to, or None when it is unknown, revoked or expired."""
        key = hash_token(token)
        at = time.monotonic()
        with self._lock:
            hit = self._seen.get(key)
        if hit is not None and at - hit[0] < self._ttl:
            return hit[1]
        with session(self._db_url) as s:
            found = lookup(s, token)
        with self._lock:
            if len(self._seen) >= self._max:  # a flood of made-up tokens must not grow this without bound
                self._seen.clear()
            self._seen[key] = (at, found)
        return found
