"""LLM configuration, the provider capability table, and the config fingerprint.

The configuration is built from the settings (`Settings.llm_config()`, worker/settings.py); nothing here
reads the environment.

Every OpenAI-compatible endpoint speaks chat completions, but not every one constrains decoding the
same way. The table below says which response modes each provider accepts; `auto` picks the strongest
one. The fingerprint names everything that can change a reading (model, mode, prompts, schemas,
extractor), so a stored result can be matched to the configuration that made it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal
from urllib.parse import urlparse

from gouji.prompts import PROMPT_VERSION, prompt_fingerprint
from gouji.schemas.llm import SCHEMA_VERSION

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

# USD per million tokens (input, output); GOUJI_LLM_PRICES='{"model": [in, out]}' adds to or overrides them.
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
    rpm: int = 0  # requests per window for all workers together (0: no limit)
    tpm: int = 0  # tokens per window for all workers together (0: no limit)
    rate_window_s: float = 60.0
    rate_redis_url: str = field(default="", repr=False)  # where the shared limit is kept; may hold a password
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
        d.pop("rate_redis_url")
        return d | {
            "prompt_version": PROMPT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "fingerprint": self.fingerprint(),
        }
