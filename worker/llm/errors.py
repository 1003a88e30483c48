"""LLM failures as plain, picklable values.

openai's exception classes hold an httpx response and do not pickle, so they must not cross a process
boundary (a Celery task result, a queue). Every failure is turned into an `LLMError` at the client's
edge: a kind the pipeline can act on, a message, and the HTTP status and Retry-After when there were any.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "rate_limited",  # 429: wait Retry-After, then retry
    "server_error",  # 5xx: back off and retry
    "timeout",
    "connection",
    "bad_request",  # 4xx other than 429: the request is wrong; retrying will not help
    "auth",
    "refusal",  # the model declined
    "length",  # finish_reason=length: the answer was cut
    "invalid_json",
    "invalid_schema",  # JSON that does not fit the response model (pydantic ValidationError)
    "budget",  # the document's token budget is spent
    "config",
]
RETRYABLE: frozenset[str] = frozenset({"rate_limited", "server_error", "timeout", "connection"})
REASKABLE: frozenset[str] = frozenset({"length", "invalid_json", "invalid_schema", "refusal"})


class LLMError(Exception):
    def __init__(self, kind: ErrorKind, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, message, status, retry_after)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.kind}{status}: {self.message}"

    def __reduce__(self) -> tuple[type[LLMError], tuple[str, str, int | None, float | None]]:
        return (LLMError, (self.kind, self.message, self.status, self.retry_after))
