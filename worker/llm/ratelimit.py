"""A rate limit on LLM calls shared by every worker process and machine, kept in Redis.

Celery's own `rate_limit` counts per worker, so N workers would send N times the provider's limit. Here
each call first takes one request and its estimated tokens from fixed windows (default one minute) kept
per provider and model in Redis; an atomic Lua script adds and checks both counters at once, so two
workers can never both take the last slot. A call that does not fit waits for the next window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

_TAKE = """
local req = redis.call('INCRBY', KEYS[1], 1)
local tok = redis.call('INCRBY', KEYS[2], ARGV[1])
if req == 1 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if tonumber(tok) == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
if (tonumber(ARGV[2]) > 0 and req > tonumber(ARGV[2])) or (tonumber(ARGV[3]) > 0 and tok > tonumber(ARGV[3])
    and tok > tonumber(ARGV[1])) then
  redis.call('DECRBY', KEYS[1], 1)
  redis.call('DECRBY', KEYS[2], ARGV[1])
  return 0
end
return 1
"""


@dataclass(frozen=True)
class Limits:
    requests: int  # per window; 0 = unlimited
    tokens: int  # per window; 0 = unlimited
    window_s: float = 60.0


class SharedRateLimit:
    def __init__(self, url: str, scope: str, limits: Limits, sleep: Callable[[float], None] = time.sleep) -> None:
        self.redis = redis.Redis.from_url(url)
        self.take = self.redis.register_script(_TAKE)
        self.scope = scope
        self.limits = limits
        self.sleep = sleep

    def acquire(self, tokens: int) -> float:
        """Block until one request and `tokens` fit in a window; return the seconds waited."""
        waited = 0.0
        while True:
            now = time.time()
            window = int(now // self.limits.window_s)
            keys = [f"gouji:rl:{self.scope}:{window}:req", f"gouji:rl:{self.scope}:{window}:tok"]
            ttl = int(self.limits.window_s * 2) + 1
            if self.take(keys=keys, args=[tokens, self.limits.requests, self.limits.tokens, ttl]) == 1:
                return waited
            pause = (window + 1) * self.limits.window_s - now + 0.01
            self.sleep(pause)
            waited += pause


def shared_limit(scope: str, limits: Limits, redis_url: str) -> SharedRateLimit | None:
    """The limiter for `scope` (provider/model), when limits and a Redis URL are configured."""
    if not (limits.requests or limits.tokens) or not redis_url.startswith("redis"):
        return None
    return SharedRateLimit(redis_url, scope, limits)
