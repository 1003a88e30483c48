"""gouji's one error tree: every failure we raise on purpose is a `GoujiError`.

Callers tell "the input is bad", "the configuration is wrong", "the LLM failed" and "the review
lifecycle refuses this" apart by class, never by message, and anything that is not a `GoujiError` is a
bug in our code. Errors carry words a user can act on and nothing else: which HTTP status a refusal
becomes is decided by the API alone (api/errors.py), so the service layer works the same under the CLI,
a Celery task or a test.

Every class pickles (a Celery task result or a process pool may carry it across a process boundary),
which exceptions with their own `__init__` do not do without `__reduce__`.
"""

from __future__ import annotations

from typing import Literal


class GoujiError(Exception):
    """Base of every error gouji raises on purpose; `message` says what went wrong in a user's words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[GoujiError], tuple[str]]:
        return (type(self), (self.message,))


class ConfigError(GoujiError):
    """A setting is missing, malformed or contradicts another (GOUJI_* variables, command options)."""


class InputError(GoujiError):
    """The input at `path` cannot be read; `problem` says why in words a user can act on."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:  # type: ignore[override]
        return (type(self), (self.path, self.problem))


LLMErrorKind = Literal[
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
]
RETRYABLE: frozenset[str] = frozenset({"rate_limited", "server_error", "timeout", "connection"})
REASKABLE: frozenset[str] = frozenset({"length", "invalid_json", "invalid_schema", "refusal"})


class LLMError(GoujiError):
    """An LLM call failed: a `kind` the pipeline can act on, plus the HTTP status and Retry-After if any.

    openai's own exceptions hold an httpx response and do not pickle; the client turns every failure
    into one of these at its edge.
    """

    def __init__(
        self, kind: LLMErrorKind, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind: LLMErrorKind = kind
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.kind}{status}: {self.message}"

    def __reduce__(self) -> tuple[type[LLMError], tuple[str, str, int | None, float | None]]:  # type: ignore[override]
        return (type(self), (self.kind, self.message, self.status, self.retry_after))


class ReviewError(GoujiError):
    """The review lifecycle refuses a request."""


class NotFound(ReviewError):
    """The task, document, version, cell or proposal asked for does not exist."""


class Conflict(ReviewError):
    """The request clashes with the current state: a task claimed by someone else, closed, four eyes."""


class Invalid(ReviewError):
    """The request itself is wrong: a value that is not a value, a required note left empty."""
