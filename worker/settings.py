"""Every setting gouji reads, in one frozen object built once per entry point.

The command line, the API server and each Celery worker call `Settings.from_env()` when they start and
pass the object (or the part a stage needs: `read_options()`, `llm_config()`) down; nothing reads the
environment at import time or deep inside a stage, so a test or an embedding program can run two
configurations side by side, and a typo in a number fails at start-up with the variable's name instead
of halfway through a batch. The README's table of settings is generated from the fields below
(`python -m gouji.worker.settings`), so the two cannot drift.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from gouji.worker.errors import ConfigError
from gouji.worker.llm.config import DEFAULT_PRICES, MODES, PROVIDER_BY_NAME, LLMConfig, Mode, detect_provider
from gouji.worker.read.options import ReadOptions

PREFIX = "GOUJI_"
DEFAULT_DATABASE_URL = "sqlite:///gouji.db"


def _group(name: str) -> Any:
    return {"group": name}


class Settings(BaseModel):
    """gouji's configuration; each field is the environment variable GOUJI_<FIELD NAME IN CAPITALS>."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- storage and service -------------------------------------------------------------------
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="Database: SQLite needs no server; `postgresql+psycopg://…` for PostgreSQL.",
        json_schema_extra=_group("service"),
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (`redis://…`): ingests and uploads queue the work for `gouji worker`; "
        "unset, work runs in-process.",
        json_schema_extra=_group("service"),
    )
    visibility_timeout: int = Field(
        3600,
        ge=1,
        description="Seconds before Redis hands an unacknowledged task to another worker; above the longest task.",
        json_schema_extra=_group("service"),
    )
    task_time_limit: float = Field(
        600,
        gt=0,
        description="Seconds a worker may spend on one document without the LLM (then it is a dead letter).",
        json_schema_extra=_group("service"),
    )
    llm_task_time_limit: float = Field(
        1800,
        gt=0,
        description="Seconds a worker may spend on one document on the LLM path.",
        json_schema_extra=_group("service"),
    )
    worker_max_memory_mb: int = Field(
        2048,
        ge=0,
        description="A worker process that has grown past this is replaced after its task (0: never).",
        json_schema_extra=_group("service"),
    )
    max_deliveries: int = Field(
        3,
        ge=1,
        description="A document whose processing killed its worker this many times in a row is a dead letter.",
        json_schema_extra=_group("service"),
    )
    requeue_every: float = Field(
        300,
        gt=0,
        description="`gouji worker --beat`: seconds between looks for stuck requests.",
        json_schema_extra=_group("service"),
    )
    requeue_after: float = Field(
        900,
        ge=0,
        description="`gouji worker --beat`: a request pending this many seconds is sent again.",
        json_schema_extra=_group("service"),
    )
    public_read: bool = Field(
        False,
        description="API: serve reports, exports and metrics without a token (publish read-only); writes "
        "always need one.",
        json_schema_extra=_group("service"),
    )
    report_cache_mb: int = Field(
        64,
        ge=0,
        description="API: MiB of compressed report bodies kept per server process.",
        json_schema_extra=_group("service"),
    )
    # -- review --------------------------------------------------------------------------------
    review_reasons: str = Field(
        "",
        description="Comma list of the routing rules that send a report to review (empty: all).",
        json_schema_extra=_group("review"),
    )
    review_qa_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of automatically accepted reports also sent to review as a QA sample.",
        json_schema_extra=_group("review"),
    )
    review_second_share: float = Field(
        0,
        ge=0,
        le=1,
        description="Share of reviewed reports sent to a second reviewer (four eyes).",
        json_schema_extra=_group("review"),
    )
    review_lease: float = Field(
        1800,
        gt=0,
        description="Seconds a claimed review task stays with its reviewer without activity.",
        json_schema_extra=_group("review"),
    )
    # -- reading -------------------------------------------------------------------------------
    ocr_threads: int = Field(
        1,
        ge=1,
        description="Threads of one OCR engine (one per worker process is best).",
        json_schema_extra=_group("read"),
    )
    soffice_timeout: float = Field(
        120,
        gt=0,
        description="Seconds LibreOffice may take to convert one .doc/.wps/.rtf file.",
        json_schema_extra=_group("read"),
    )
    cjk_font: str = Field(
        "",
        description="`gouji synth`: a CJK TrueType font for generated PDFs and scans (default: WenQuanYi).",
        json_schema_extra=_group("read"),
    )
    # -- LLM -----------------------------------------------------------------------------------
    llm_base_url: str = Field(
        "",
        description="OpenAI-compatible endpoint of the LLM path (with GOUJI_LLM_MODEL; unset: no LLM).",
        json_schema_extra=_group("llm"),
    )
    llm_model: str = Field("", description="Model name at that endpoint.", json_schema_extra=_group("llm"))
    llm_api_key: SecretStr = Field(
        SecretStr("none"),
        description="API key (never stored, logged or sent to workers).",
        json_schema_extra=_group("llm"),
    )
    llm_provider: str = Field(
        "",
        description="Provider (openai, deepseek, qwen, vllm, ollama, llamacpp, generic); default: from the URL.",
        json_schema_extra=_group("llm"),
    )
    llm_mode: str = Field(
        "auto",
        description="How answers are constrained: auto, json_schema, json_object or tools.",
        json_schema_extra=_group("llm"),
    )
    llm_prices: str = Field(
        "",
        description='USD per million tokens as JSON, e.g. `{"my-model": [0.4, 1.6]}` (adds to the built-in table).',
        json_schema_extra=_group("llm"),
    )
    llm_timeout: float = Field(60, gt=0, description="Seconds per LLM call.", json_schema_extra=_group("llm"))
    llm_max_repairs: int = Field(
        2, ge=0, description="Re-asks per table driven by failing identities.", json_schema_extra=_group("llm")
    )
    llm_token_budget: int = Field(
        60_000, ge=1, description="Tokens per document, all tables and attempts.", json_schema_extra=_group("llm")
    )
    llm_concurrency: int = Field(
        3, ge=1, description="Tables of one document read at once.", json_schema_extra=_group("llm")
    )
    llm_max_in_flight: int = Field(
        8,
        ge=1,
        description="Calls in flight to one endpoint and model from one process.",
        json_schema_extra=_group("llm"),
    )
    llm_max_attempts: int = Field(
        5,
        ge=1,
        description="Attempts per call on 429, 5xx, timeouts and lost connections.",
        json_schema_extra=_group("llm"),
    )
    llm_rpm: int = Field(
        0,
        ge=0,
        description="Requests per window for all workers together (0: no limit).",
        json_schema_extra=_group("llm"),
    )
    llm_tpm: int = Field(
        0,
        ge=0,
        description="Tokens per window for all workers together (0: no limit).",
        json_schema_extra=_group("llm"),
    )
    llm_rate_window: float = Field(
        60, gt=0, description="Seconds of one rate-limit window.", json_schema_extra=_group("llm")
    )
    redis_url: str = Field(
        "",
        description="Redis holding the shared LLM rate limit (default: the broker, when it is Redis).",
        json_schema_extra=_group("llm"),
    )

    @field_validator("llm_mode")
    @classmethod
    def _known_mode(cls, v: str) -> str:
        if v != "auto" and v not in MODES:
            raise ValueError(f"must be auto or one of {', '.join(MODES)}, not {v!r}")
        return v

    @field_validator("llm_prices")
    @classmethod
    def _prices_json(cls, v: str) -> str:
        if v:
            _parse_prices(v)
        return v

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings in `env` (default: the process environment), then `overrides` (command options)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            name: env[variable(name)] for name in cls.model_fields if env.get(variable(name), "") != ""
        }
        values |= {k: v for k, v in overrides.items() if v is not None}
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            first = e.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "?"
            raise ConfigError(f"{variable(name)}: {first['msg']} (got {str(values.get(name))!r})") from None

    # -- what the stages need --------------------------------------------------------------------

    def read_options(self) -> ReadOptions:
        return ReadOptions(ocr_threads=self.ocr_threads, soffice_timeout_s=self.soffice_timeout)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.llm_model)

    def llm_config(self, wanted: bool = True) -> LLMConfig | None:
        """The LLM configuration when `wanted`, else None; wanted but not (fully) configured is an error,
        never a silent run without the LLM."""
        if not wanted:
            return None
        if not self.llm_base_url or not self.llm_model:
            raise ConfigError(
                "the LLM path needs an endpoint: set GOUJI_LLM_BASE_URL and GOUJI_LLM_MODEL "
                "(and GOUJI_LLM_API_KEY if it needs one); see the README, 'LLM extraction'"
            )
        provider = PROVIDER_BY_NAME.get(self.llm_provider) or detect_provider(self.llm_base_url)
        mode: Mode = provider.modes[0] if self.llm_mode == "auto" else self.llm_mode  # type: ignore[assignment]
        prices = dict(DEFAULT_PRICES) | (_parse_prices(self.llm_prices) if self.llm_prices else {})
        rate_url = self.redis_url or (self.broker_url or "")
        return LLMConfig(
            base_url=self.llm_base_url.rstrip("/"),
            model=self.llm_model,
            api_key=self.llm_api_key.get_secret_value(),
            mode=mode,
            provider=provider.name,
            timeout_s=self.llm_timeout,
            max_repairs=self.llm_max_repairs,
            token_budget=self.llm_token_budget,
            concurrency=self.llm_concurrency,
            max_in_flight=self.llm_max_in_flight,
            max_transport_attempts=self.llm_max_attempts,
            rpm=self.llm_rpm,
            tpm=self.llm_tpm,
            rate_window_s=self.llm_rate_window,
            rate_redis_url=rate_url if rate_url.startswith("redis") else "",
            prices=prices,
        )


def variable(field: str) -> str:
    return PREFIX + field.upper()


def _parse_prices(text: str) -> dict[str, tuple[float, float]]:
    try:
        return {k: (float(v[0]), float(v[1])) for k, v in json.loads(text).items()}
    except (ValueError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f'must be JSON like {{"model": [in, out]}}: {e}') from None


GROUP_TITLES = {"service": "Storage and service", "review": "Review", "read": "Reading", "llm": "LLM"}


def markdown_table() -> str:
    """The README's table of settings, from the fields above."""
    lines = ["| variable | default | what it sets |", "|---|---|---|"]
    group = None
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("group") != group:
            group = extra.get("group")
            lines.append(f"| **{GROUP_TITLES.get(str(group), str(group))}** | | |")
        default = field.default.get_secret_value() if isinstance(field.default, SecretStr) else field.default
        shown = "(unset)" if default in (None, "") else f"`{default}`"
        lines.append(f"| `{variable(name)}` | {shown} | {field.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
