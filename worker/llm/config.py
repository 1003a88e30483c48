"""LLM configuration from the environment, the provider capability table, and the config fingerprint.

Every OpenAI-compatible endpoint speaks chat completions, but not every one constrains decoding the
same way. The table below says which response modes each provider accepts; `auto` picks the strongest
one. The fingerprint names everything that can change a reading (model, mode, prompts, schemas,
extractor), so a stored result can be matched to the configuration that made it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal
from urllib.parse import urlparse

from gouji.prompts import PROMPT_VERSION, prompt_fingerprint
from gouji.schemas.llm import SCHEMA_VERSION
from gouji.worker.llm.errors import LLMError

Mode = Literal["json_schema", "json_object", "tools"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "tools")
EXTRACTOR_VERSION = "gouji-llm/0.1"


@dataclass(frozen=True)
class Provider:
    name: str
    modes: tuple[Mode, ...]  # accepted modes, strongest first (auto takes the first)
    hosts: tuple[str, ...] = ()  # base-URL hosts or ports that identify it
    note: str = ""
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "openai",
        ("json_schema", "tools", "json_object"),
        ("api.openai.com",),
        "strict structured outputs via chat.completions.parse",
        "max_completion_tokens",
    ),
    Provider(
        "deepseek",
        ("json_object",),
        ("api.deepseek.com",),
        "JSON mode only; answers are validated locally against the pydantic model",
    ),
    Provider(
        "qwen",
        ("json_object", "tools"),
        ("dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com"),
        "DashScope compatible mode: JSON mode and tool calling",
    ),
    Provider(
        "vllm", ("json_schema", "json_object", "tools"), (), "guided decoding (xgrammar/outlines) for json_schema"
    ),
    Provider("ollama", ("json_schema", "json_object", "tools"), (":11434",), "structured outputs via format/schema"),
    Provider("llamacpp", ("json_schema", "json_object"), (":8080",), "llama-server: json_schema compiled to a grammar"),
    Provider("generic", ("json_object",), (), "unknown endpoint: JSON mode plus local validation"),
)
PROVIDER_BY_NAME = {p.name: p for p in PROVIDERS}

# USD per million tokens (input, output). Overridable with GOUJI_LLM_PRICES='{"model": [in, out]}'.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "deepseek-chat": (0.27, 1.1),
    "qwen-plus": (0.4, 1.2),
    "qwen-max": (1.6, 6.4),
}


def detect_provider(base_url: str) -> Provider:
    parsed = urlparse(base_url)
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    for p in PROVIDERS:
        if any(h == host or (h.startswith(":") and h == port) for h in p.hosts):
            return p
    return PROVIDER_BY_NAME["generic"]


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = field(default="none", repr=False)
    mode: Mode = "json_object"
    provider: str = "generic"
    timeout_s: float = 60.0
    max_transport_attempts: int = 5  # per call: 429 / 5xx / timeouts / connection errors
    max_answer_attempts: int = 2  # per call: cut, refused or invalid answers asked again
    max_repairs: int = 2  # per table: re-asks driven by failing identities
    token_budget: int = 60_000  # per document, input + output, all tables and attempts
    max_output_tokens: int = 2_000
    concurrency: int = 3  # tables of one document in flight at once
    max_in_flight: int = 8  # calls in flight to this endpoint and model from the whole process
    backoff_s: float = 1.0
    max_wait_s: float = 60.0  # longest single wait (Retry-After or backoff)
    prices: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))

    @property
    def provider_info(self) -> Provider:
        return PROVIDER_BY_NAME.get(self.provider, PROVIDER_BY_NAME["generic"])

    def fingerprint(self) -> str:
        """What makes two readings comparable: same model, mode, prompts, schemas and extractor."""
        parts = {
            "model": self.model,
            "mode": self.mode,
            "provider": self.provider,
            "prompt": PROMPT_VERSION,
            "prompt_sha": prompt_fingerprint(),
            "schema": SCHEMA_VERSION,
            "extractor": EXTRACTOR_VERSION,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def public(self) -> dict[str, object]:
        """The configuration as stored with a result (never the API key)."""
        d = asdict(self)
        d.pop("api_key")
        d.pop("prices")
        return d | {
            "prompt_version": PROMPT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "fingerprint": self.fingerprint(),
        }


def from_env(env: Mapping[str, str] | None = None) -> LLMConfig | None:
    """The configuration from GOUJI_LLM_* variables, or None when no endpoint is configured."""
    env = os.environ if env is None else env
    base_url, model = env.get("GOUJI_LLM_BASE_URL", ""), env.get("GOUJI_LLM_MODEL", "")
    if not base_url and not model:
        return None
    if not base_url or not model:
        raise LLMError("config", "set both GOUJI_LLM_BASE_URL and GOUJI_LLM_MODEL")
    provider = PROVIDER_BY_NAME.get(env.get("GOUJI_LLM_PROVIDER", "")) or detect_provider(base_url)
    mode_name = env.get("GOUJI_LLM_MODE", "auto")
    if mode_name == "auto":
        mode: Mode = provider.modes[0]
    elif mode_name in MODES:
        mode = mode_name
    else:
        raise LLMError("config", f"GOUJI_LLM_MODE must be auto or one of {', '.join(MODES)}, not {mode_name!r}")
    prices = dict(DEFAULT_PRICES)
    if env.get("GOUJI_LLM_PRICES"):
        try:
            prices |= {k: (float(v[0]), float(v[1])) for k, v in json.loads(env["GOUJI_LLM_PRICES"]).items()}
        except (ValueError, TypeError, IndexError) as e:
            raise LLMError("config", f'GOUJI_LLM_PRICES must be JSON like {{"model": [in, out]}}: {e}') from e

    def number(name: str, default: float) -> float:
        try:
            return float(env.get(name, default))
        except ValueError as e:
            raise LLMError("config", f"{name} must be a number") from e

    return LLMConfig(
        base_url=base_url.rstrip("/"),
        model=model,
        api_key=env.get("GOUJI_LLM_API_KEY", "none"),
        mode=mode,
        provider=provider.name,
        timeout_s=number("GOUJI_LLM_TIMEOUT", 60),
        max_repairs=int(number("GOUJI_LLM_MAX_REPAIRS", 2)),
        token_budget=int(number("GOUJI_LLM_TOKEN_BUDGET", 60_000)),
        concurrency=int(number("GOUJI_LLM_CONCURRENCY", 3)),
        max_in_flight=int(number("GOUJI_LLM_MAX_IN_FLIGHT", 8)),
        max_transport_attempts=int(number("GOUJI_LLM_MAX_ATTEMPTS", 5)),
        prices=prices,
    )
