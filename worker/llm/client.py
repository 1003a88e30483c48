"""One table, one question: the call to an OpenAI-compatible endpoint and every way it can fail.

Three response modes: strict `json_schema` through `chat.completions.parse`, `json_object` with the
schema spelled out in the prompt and the answer validated locally (DeepSeek's only mode), and a forced
tool call. Transport failures (429 honouring Retry-After, 5xx, timeouts, dropped connections) are
retried here with capped exponential backoff and jitter; answers that are cut (`finish_reason=length`),
refused, not JSON or not the schema are asked again a bounded number of times. Usage is read from the
raw response even when parsing fails, so the ledger never under-counts. Whatever escapes is an
`LLMError` (picklable), never an openai exception.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from openai import OpenAI
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, ValidationError

from gouji.prompts import system_prompt
from gouji.schemas.llm import TableId, response_model
from gouji.schemas.template import Version
from gouji.worker.errors import REASKABLE, RETRYABLE, LLMError, LLMErrorKind
from gouji.worker.llm.config import LLMConfig
from gouji.worker.llm.ledger import Attempt, Ledger, Purpose
from gouji.worker.llm.ratelimit import Limits, shared_limit

_LIMITS: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()


_CLIENTS: dict[tuple[str, str, float, str], OpenAI] = {}


def make_client(cfg: LLMConfig) -> OpenAI:
    """One client per endpoint, key, timeout and model for the process: building one costs an SSL context
    (50-190 ms), and the client is thread-safe. Retries are ours (counted in the ledger), so the SDK's
    own are off. The shared rate limit is taken in the HTTP client's request hook, the moment a request
    goes on the wire: taken earlier, slow work between (the SDK's first lazy imports can take a second in
    a fresh process) would let a window's calls arrive in the next one."""
    scope = f"{cfg.provider}:{cfg.model}"
    key = (cfg.base_url, cfg.api_key, cfg.timeout_s, scope)
    with _LIMITS_LOCK:
        if key not in _CLIENTS:
            hooks: dict[str, list[Callable[[Any], None]]] = {}
            limit = shared_limit(scope, Limits(cfg.rpm, cfg.tpm, cfg.rate_window_s), cfg.rate_redis_url)
            if limit is not None:
                reserve = cfg.max_output_tokens // 4

                def take(request: Any) -> None:
                    limit.acquire(len(request.content) // 3 + reserve)  # ~1 token per CJK character (3 bytes)

                hooks["request"] = [take]
            _CLIENTS[key] = OpenAI(
                base_url=cfg.base_url,
                api_key=cfg.api_key,
                timeout=cfg.timeout_s,
                max_retries=0,
                http_client=openai.DefaultHttpxClient(event_hooks=hooks),
            )
        return _CLIENTS[key]


def schema_json(table: TableId, version: Version) -> str:
    return json.dumps(to_strict_json_schema(response_model(table, version)), ensure_ascii=False)


class TableReader:
    """Asks one table at a time; thread-safe (the openai client is), so tables can go out concurrently."""

    def __init__(
        self, cfg: LLMConfig, ledger: Ledger, client: OpenAI | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.client = client or make_client(cfg)
        self.sleep = sleep

    def ask(self, table: TableId, version: Version, user_prompt: str, purpose: Purpose) -> BaseModel:
        model = response_model(table, version)
        messages = [{"role": "system", "content": system_prompt(version)}, {"role": "user", "content": user_prompt}]
        last: LLMError | None = None
        for attempt in range(self.cfg.max_answer_attempts):
            if self.ledger.remaining() <= 0:
                raise LLMError("budget", f"token budget of {self.ledger.budget} spent before {table} could be read")
            started = time.monotonic()
            http_attempts = 0
            usage = (0, 0)
            try:
                raw, http_attempts = self._with_retries(lambda: self._send(model, messages))
                usage = _usage(raw)
                parsed = self._parse(raw, model)
            except LLMError as e:
                self.ledger.add(
                    Attempt(
                        table,
                        purpose if attempt == 0 else "reask",
                        *usage,
                        round(time.monotonic() - started, 3),
                        e.kind,
                        max(http_attempts, 1),
                    )
                )
                if e.kind not in REASKABLE:
                    raise
                last = e
                continue
            self.ledger.add(
                Attempt(
                    table,
                    purpose if attempt == 0 else "reask",
                    *usage,
                    round(time.monotonic() - started, 3),
                    "ok",
                    http_attempts,
                )
            )
            return parsed
        assert last is not None
        raise last

    # -- the request, by mode ------------------------------------------------------------------

    def _send(self, model: type[BaseModel], messages: list[dict[str, str]]) -> Any:
        cfg = self.cfg
        common: dict[str, Any] = {"model": cfg.model, "messages": messages, "temperature": 0}
        common[cfg.provider_info.max_tokens_param] = cfg.max_output_tokens
        api: Any = self.client.chat.completions.with_raw_response  # typed per model name; ours are free
        if cfg.mode == "json_schema":
            return api.parse(response_format=model, **common)
        if cfg.mode == "tools":
            name = model.__name__
            tool = {
                "type": "function",
                "function": {
                    "name": name,
                    "description": "the table's cells",
                    "parameters": to_strict_json_schema(model),
                    "strict": True,
                },
            }
            return api.create(tools=[tool], tool_choice={"type": "function", "function": {"name": name}}, **common)
        return api.create(response_format={"type": "json_object"}, **common)

    def _parse(self, raw: Any, model: type[BaseModel]) -> BaseModel:
        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as e:
            raise LLMError("length", "the answer was cut at the token limit (finish_reason=length)") from e
        except openai.ContentFilterFinishReasonError as e:
            raise LLMError("refusal", "the provider's content filter stopped the answer") from e
        except ValidationError as e:
            raise LLMError(_validation_kind(e), _first_error(e)) from e
        except json.JSONDecodeError as e:
            raise LLMError("invalid_json", str(e)) from e
        choice = completion.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            raise LLMError("refusal", str(message.refusal)[:200])
        if choice.finish_reason == "length":
            raise LLMError("length", "the answer was cut at the token limit (finish_reason=length)")
        parsed = getattr(message, "parsed", None)
        if isinstance(parsed, model):
            return parsed
        text = message.content
        if message.tool_calls:
            text = message.tool_calls[0].function.arguments
        if not text:
            raise LLMError("invalid_json", "the answer is empty")
        try:
            return model.model_validate_json(text)
        except ValidationError as e:
            raise LLMError(_validation_kind(e), _first_error(e)) from e

    # -- transport -----------------------------------------------------------------------------

    def _with_retries(self, call: Callable[[], Any]) -> tuple[Any, int]:
        limit = _in_flight(self.cfg)
        for attempt in range(1, self.cfg.max_transport_attempts + 1):
            try:
                with limit:  # held during the call only, never while waiting to retry
                    return call(), attempt
            except openai.APIError as e:
                err = to_llm_error(e)
            if err.kind not in RETRYABLE or attempt == self.cfg.max_transport_attempts:
                raise err
            backoff = self.cfg.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random())
            self.sleep(min(err.retry_after if err.retry_after is not None else backoff, self.cfg.max_wait_s))
        raise AssertionError("unreachable")


def _in_flight(cfg: LLMConfig) -> threading.BoundedSemaphore:
    """One cap per endpoint and model for the whole process: a provider's concurrency limit is global."""
    with _LIMITS_LOCK:
        return _LIMITS.setdefault((cfg.base_url, cfg.model), threading.BoundedSemaphore(max(cfg.max_in_flight, 1)))


def to_llm_error(e: openai.APIError) -> LLMError:
    """The openai exception as a plain value (openai's classes hold an httpx response and do not pickle)."""
    if isinstance(e, openai.APITimeoutError):
        return LLMError("timeout", "the request timed out")
    if isinstance(e, openai.APIConnectionError):
        return LLMError("connection", str(e) or "connection failed")
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        msg = _status_message(e)
        if status == 429:
            return LLMError("rate_limited", msg, status, _retry_after(e.response.headers))
        if status >= 500:
            return LLMError("server_error", msg, status, _retry_after(e.response.headers))
        if status in (401, 403):
            return LLMError("auth", msg, status)
        return LLMError("bad_request", msg, status)
    return LLMError("connection", str(e))


def _status_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(e.message)[:300]


def _retry_after(headers: Any) -> float | None:
    """Seconds from Retry-After (delta seconds or an HTTP date) or retry-after-ms."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None


def _usage(raw: Any) -> tuple[int, int]:
    try:
        usage = json.loads(raw.http_response.text).get("usage") or {}
    except (ValueError, AttributeError):
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _validation_kind(e: ValidationError) -> LLMErrorKind:
    return "invalid_json" if any(err["type"] == "json_invalid" for err in e.errors()) else "invalid_schema"


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{e.error_count()} problem(s); first at {where or 'top'}: {err['msg']}"[:300]
