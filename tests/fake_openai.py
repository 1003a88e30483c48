"""An OpenAI-compatible chat-completions server on 127.0.0.1 that answers from gold cells.

The LLM path must be tested and benchmarked without any hosted model, yet through the real `openai`
client and a real HTTP connection, because the failures that matter (rate limits, timeouts, dropped
connections, truncated or refused answers, schema-valid but wrong numbers) live in that stack. This
server plays a perfect model scripted from gold answers, and every way a provider or a model goes
wrong is injected on purpose, one scripted fault or a random policy at a time, with each wrong number
recorded so a benchmark can count the silent errors a client lets through.

Run by hand: `python -m tests.fake_openai --gold-dir DIR --reports-dir DIR --port N [--latency S]`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, TypeVar, cast, get_args

from gouji.schemas.llm import CellStatus, TableId, column_keys, flat_key, row_keys
from gouji.schemas.template import Version
from gouji.worker.read import read_document

JSON = dict[str, Any]
Mode = Literal["json_schema", "json_object", "tools", "text"]

HTTP_FAULTS: Final = ("429", "500", "503", "slow", "drop")
ANSWER_FAULTS: Final = ("truncated_json", "length", "refusal", "invalid_schema", "not_json")
VALUE_FAULTS: Final = ("digit_swap", "row_shift", "fused", "hallucinate", "drop_digit", "wrong_status")
FAULT_KINDS: Final = (*HTTP_FAULTS, *ANSWER_FAULTS, *VALUE_FAULTS)
INVALID_SCHEMA_VARIANTS: Final = ("bad_row_key", "missing_field", "bad_status", "extra_field", "wrong_type")

# Unknown parameters are refused at `fault()` time: a misspelt `retry_afer` would otherwise be a test
# that silently checks the default.
_PARAMS: Final[dict[str, frozenset[str]]] = {
    "429": frozenset({"retry_after", "code", "message"}),
    "500": frozenset({"message"}),
    "503": frozenset({"message", "retry_after"}),
    "slow": frozenset({"seconds"}),
    "drop": frozenset(),
    "truncated_json": frozenset({"at"}),
    "length": frozenset({"at"}),
    "refusal": frozenset({"message"}),
    "invalid_schema": frozenset({"variant", "row_key"}),
    "not_json": frozenset({"text"}),
    **{k: frozenset({"key", "seed"}) for k in VALUE_FAULTS if k != "row_shift"},
    "row_shift": frozenset({"key", "row", "seed"}),
}

_STATUSES: Final[frozenset[str]] = frozenset(get_args(CellStatus))
_VERSIONS: Final[frozenset[str]] = frozenset({"2019", "2021"})
_REPORT = re.compile(r"^<report>[ \t]*\r?\n(.*?)\r?\n?^</report>[ \t]*$", re.M | re.S)
_ANSWER_SCHEMA = re.compile(r"Answer schema:\s*gouji_(t[234])_(\d{4})")
_SCHEMA_NAME = re.compile(r"^gouji_(t[234])_(\d{4})$")
_TOKEN = re.compile(r"[A-Za-z0-9]+|\S")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")
_NUMBERS_IN_TEXT = re.compile(r"\d+(?:\.\d+)?")
_DIGITS = frozenset("0123456789")
_INT = re.compile(r"0|[1-9]\d*")

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Token counting


def count_tokens(text: str) -> int:
    """Tokens as this server counts them.

    Deterministic and tokenizer-free so usage figures are reproducible in tests and budgets can be
    checked exactly: each CJK (or any other non-space) character is 1, each run of ASCII letters and
    digits is 1 per 4 characters (rounded up), whitespace is free.
    """
    return sum(math.ceil(len(t) / 4) if t[0].isascii() and t[0].isalnum() else 1 for t in _TOKEN.findall(text))


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _schema_json(body: JSON) -> list[Any]:
    schemas: list[Any] = []
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), dict):
        schemas.append(rf["json_schema"].get("schema"))
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            schemas.append(tool["function"].get("parameters"))
    return schemas


def prompt_tokens(body: JSON) -> int:
    """The prompt tokens the server bills for a request body.

    Every message's text plus 4 per message, plus the schema JSON (the `json_schema.schema` of a
    response format and each tool's `parameters`, serialised compactly with sorted keys) because
    providers bill the grammar they were sent.
    """
    messages = body.get("messages") or []
    total = sum(count_tokens(_message_text(m)) + 4 for m in messages)
    for schema in _schema_json(body):
        total += count_tokens(json.dumps(schema, ensure_ascii=False, separators=(",", ":"), sort_keys=True))
    return total


# ---------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Document:
    """A registered report: its normalised text, a whitespace-free view and its gold cells."""

    name: str
    text: str
    compact: str
    cells: dict[str, dict[str, Any]]
    numbers: frozenset[str]


@dataclass
class Fault:
    """A scripted fault, consumed by the first `times` requests it matches."""

    kind: str
    table: TableId | None
    doc: str | None
    times: int
    params: dict[str, Any]
    used: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.used


@dataclass(frozen=True)
class Change:
    """One cell a value fault altered; `new_status` is "omitted" when the cell left the answer."""

    key: str
    old: str | None
    new: str | None
    old_status: str
    new_status: str


@dataclass(frozen=True)
class Injection:
    """One value fault applied to one answer: what a client would have to catch."""

    kind: str
    request: int
    doc: str | None
    table: TableId
    version: Version
    changes: tuple[Change, ...]
    source: Literal["script", "policy"]

    @property
    def key(self) -> str:
        return self.changes[0].key

    @property
    def old(self) -> str | None:
        return self.changes[0].old

    @property
    def new(self) -> str | None:
        return self.changes[0].new


@dataclass
class RecordedRequest:
    """What the server received and how it answered.

    `status` is None while the request is in flight and for a dropped connection (`fault == "drop"`);
    it is set before the response is written, so a client that has its answer sees it.
    """

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    table: TableId | None = None
    version: Version | None = None
    doc: str | None = None
    mode: Mode | None = None
    fault: str | None = None
    status: int | None = None
    done: bool = False


@dataclass(frozen=True)
class Ask:
    """What a chat-completions request asks for, as far as this server cares."""

    model: str
    table: TableId
    version: Version
    excerpt: str | None
    mode: Mode
    tool_name: str | None
    max_tokens: int | None


class BadRequest(Exception):
    """A request the contract does not allow; answered with 400 so a client bug is loud."""


# ---------------------------------------------------------------------------------------------
# Request parsing and gold answers


def parse_ask(body: Any) -> Ask:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array")
    if body.get("stream"):
        raise BadRequest("streaming is not supported by the fake server")
    text = "\n".join(_message_text(m) for m in messages)

    tool_name: str | None = None
    mode: Mode = "text"
    schema_name: str | None = None
    tools = body.get("tools")
    if tools:
        mode = "tools"
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            tool_name = choice["function"].get("name")
        if tool_name is None:
            first = tools[0] if isinstance(tools, list) and tools and isinstance(tools[0], dict) else {}
            tool_name = (first.get("function") or {}).get("name")
        schema_name = tool_name
    else:
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") == "json_schema":
            mode = "json_schema"
            schema_name = (rf.get("json_schema") or {}).get("name")
        elif isinstance(rf, dict) and rf.get("type") == "json_object":
            mode = "json_object"

    m = _ANSWER_SCHEMA.search(text)
    pair = (m.group(1), m.group(2)) if m else None
    if pair is None and isinstance(schema_name, str) and (n := _SCHEMA_NAME.match(schema_name)):
        pair = (n.group(1), n.group(2))
    if pair is None or pair[1] not in _VERSIONS:
        raise BadRequest("no 'Answer schema: gouji_<t2|t3|t4>_<2019|2021>' line and no such schema name")

    r = _REPORT.search(text)
    excerpt = r.group(1).strip() if r else None
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return Ask(
        model=str(body.get("model", "")),
        table=cast(TableId, pair[0]),
        version=cast(Version, pair[1]),
        excerpt=excerpt or None,
        mode=mode,
        tool_name=tool_name if isinstance(tool_name, str) else None,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
    )


def _answer_cell(column: str, gold: dict[str, Any]) -> JSON:
    status = str(gold.get("status"))
    status = status if status in _STATUSES else "unparseable"
    value = gold.get("value")
    v = None if value is None else str(value)
    gold_raw = str(gold.get("raw") or "")
    if status == "reported":
        # A model reads the printed cell; it never sees the gold's fused runs.
        raw = v if v is not None else gold_raw
    elif status == "blank":
        raw = ""
    elif status == "dash":
        raw = gold_raw or "-"
    elif status == "not_applicable":
        raw = gold_raw or "/"
    else:
        raw = gold_raw
    return {"column": column, "raw": raw, "value": v, "status": status}


def gold_answer(cells: dict[str, dict[str, Any]], table: TableId, version: Version) -> JSON:
    """The perfect answer for one table, in template order; "missing" cells and empty rows omitted."""
    rows = []
    for rk in row_keys(table, version):
        out = []
        for col in column_keys(table, version):
            g = cells.get(flat_key(table, rk, col))
            if g is None or g.get("status") == "missing":
                continue
            out.append(_answer_cell(col, g))
        if out:
            rows.append({"row_key": rk, "cells": out})
    return {"rows": rows}


def dumps(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Value faults: each edits a copy of the answer in place and returns what it changed, or None when
# it cannot apply (then a scripted fault stays queued for a later request).


@dataclass(frozen=True)
class _Ctx:
    table: TableId
    doc: Document | None
    params: dict[str, Any]
    rng: random.Random | None


def _pick(items: Sequence[T], rng: random.Random | None) -> T:
    return rng.choice(items) if rng is not None else items[0]


def _reported(answer: JSON, ctx: _Ctx) -> list[tuple[str, JSON]]:
    out = []
    for row in answer.get("rows", []):
        for cell in row.get("cells", []):
            if cell.get("status") == "reported" and isinstance(cell.get("value"), str):
                key = flat_key(ctx.table, row["row_key"], cell["column"])
                if ctx.params.get("key") in (None, key):
                    out.append((key, cell))
    return out


def _valid_number(s: str) -> bool:
    return bool(_NUMBER.fullmatch(s)) and not (s.startswith("-0") and not s.startswith("-0."))


def _swaps(v: str) -> list[str]:
    out = []
    for i in range(len(v) - 1):
        a, b = v[i], v[i + 1]
        if a in _DIGITS and b in _DIGITS and a != b:
            n = v[:i] + b + a + v[i + 2 :]
            if _valid_number(n):
                out.append(n)
    return out


def _drops(v: str) -> list[str]:
    out: list[str] = []
    for i, ch in enumerate(v):
        if ch in _DIGITS:
            n = v[:i] + v[i + 1 :]
            if _valid_number(n) and n != v and n not in out:
                out.append(n)
    return out


def _set_value(key: str, cell: JSON, new: str | None, status: str = "reported") -> Change:
    change = Change(key, cell["value"], new, cell["status"], status)
    cell["value"] = new
    cell["status"] = status
    cell["raw"] = new if new is not None else ""
    return change


def _rewrite(answer: JSON, ctx: _Ctx, variants: Callable[[str], list[str]]) -> list[Change] | None:
    cands = [(k, c, vs) for k, c in _reported(answer, ctx) if (vs := variants(c["value"]))]
    if not cands:
        return None
    key, cell, vs = _pick(cands, ctx.rng)
    return [_set_value(key, cell, _pick(vs, ctx.rng))]


def _digit_swap(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    return _rewrite(answer, ctx, _swaps)


def _drop_digit(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    return _rewrite(answer, ctx, _drops)


def _wrong_status(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    cands = _reported(answer, ctx)
    if not cands:
        return None
    key, cell = _pick(cands, ctx.rng)
    return [_set_value(key, cell, None, "blank")]


def _invent(v: str, numbers: frozenset[str], rng: random.Random | None) -> str | None:
    """A number near `v` (same decimals, same sign where possible) that the report never prints."""
    try:
        d = Decimal(v)
    except InvalidOperation:
        return None
    exp = d.as_tuple().exponent
    unit = Decimal(1).scaleb(exp if isinstance(exp, int) else 0)
    span = max(9, int(abs(d)))
    for k in range(1, 1_000):
        # Widen the range as tries fail: small values are printed everywhere in a report.
        step = rng.randint(1, span * (1 + k // 8)) if rng is not None else 7 * k + 3
        cand = d + unit * step
        s = format(cand, "f")
        if s.lstrip("-") not in numbers and s != v and _valid_number(s):
            return s
    return None


def _hallucinate(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    numbers = ctx.doc.numbers if ctx.doc is not None else frozenset()
    return _rewrite(answer, ctx, lambda v: [n] if (n := _invent(v, numbers, ctx.rng)) else [])


def _fused(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    cands = []
    for row in answer.get("rows", []):
        cells = row.get("cells", [])
        for a, b in itertools.pairwise(cells):
            if not all(c.get("status") == "reported" and _INT.fullmatch(str(c.get("value"))) for c in (a, b)):
                continue
            if a["value"] == "0":
                continue
            ka, kb = flat_key(ctx.table, row["row_key"], a["column"]), flat_key(ctx.table, row["row_key"], b["column"])
            if ctx.params.get("key") in (None, ka, kb):
                cands.append((ka, a, kb, b))
    if not cands:
        return None
    ka, a, kb, b = _pick(cands, ctx.rng)
    fused = a["value"] + b["value"]
    changes = [_set_value(ka, a, fused)]
    if b["value"] != "0":
        changes.append(_set_value(kb, b, "0"))
    return changes


def _cell_state(cell: JSON | None) -> tuple[str | None, str]:
    return (None, "omitted") if cell is None else (cell.get("value"), str(cell.get("status")))


def _row_shift(answer: JSON, ctx: _Ctx) -> list[Change] | None:
    rows = answer.get("rows", [])
    want_row, want_key = ctx.params.get("row"), ctx.params.get("key")
    cands = []
    for i in range(len(rows) - 1):
        src, dst = rows[i], rows[i + 1]
        if want_row not in (None, src["row_key"]):
            continue
        if want_key is not None and all(
            flat_key(ctx.table, src["row_key"], c["column"]) != want_key for c in src["cells"]
        ):
            continue
        if [(c["column"], c["value"], c["status"]) for c in src["cells"]] != [
            (c["column"], c["value"], c["status"]) for c in dst["cells"]
        ]:
            cands.append(i)
    if not cands:
        return None
    i = _pick(cands, ctx.rng)
    src, dst = rows[i], rows[i + 1]
    before_src = {c["column"]: c for c in src["cells"]}
    before_dst = {c["column"]: c for c in dst["cells"]}
    rows[i + 1] = {"row_key": dst["row_key"], "cells": copy.deepcopy(src["cells"])}
    del rows[i]
    changes = []
    for col in dict.fromkeys([*before_dst, *before_src]):
        (ov, os_), (nv, ns) = _cell_state(before_dst.get(col)), _cell_state(before_src.get(col))
        if (ov, os_) != (nv, ns):
            changes.append(Change(flat_key(ctx.table, dst["row_key"], col), ov, nv, os_, ns))
    for col, c in before_src.items():
        changes.append(Change(flat_key(ctx.table, src["row_key"], col), c["value"], None, c["status"], "omitted"))
    return changes


_VALUE_FAULT_FNS: Final[dict[str, Callable[[JSON, _Ctx], list[Change] | None]]] = {
    "digit_swap": _digit_swap,
    "row_shift": _row_shift,
    "fused": _fused,
    "hallucinate": _hallucinate,
    "drop_digit": _drop_digit,
    "wrong_status": _wrong_status,
}


def apply_value_fault(
    kind: str, answer: JSON, table: TableId, doc: Document | None, params: dict[str, Any], rng: random.Random | None
) -> tuple[JSON, list[Change]] | None:
    """A faulty copy of `answer` and its changes, or None when `kind` has nothing to act on."""
    faulty = copy.deepcopy(answer)
    changes = _VALUE_FAULT_FNS[kind](faulty, _Ctx(table, doc, params, rng))
    return (faulty, changes) if changes else None


# ---------------------------------------------------------------------------------------------
# Answer-level faults


def _cut(s: str, at: float) -> str:
    n = min(len(s) - 1, max(1, int(len(s) * at)))
    return s[:n]


def _cut_to_tokens(s: str, limit: int) -> str:
    lo, hi = 0, len(s)  # count_tokens is monotone in the prefix length
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(s[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return s[:lo]


def _invalid_schema(answer: JSON, params: dict[str, Any]) -> JSON:
    bad = copy.deepcopy(answer)
    variant = params.get("variant", "bad_row_key")
    rows = bad.setdefault("rows", [])
    first_cell = next((c for r in rows for c in r.get("cells", [])), None)
    if variant == "missing_field" and first_cell is None:
        return {}
    if variant == "bad_row_key" or first_cell is None:
        if rows:
            rows[0]["row_key"] = params.get("row_key", "total")
        else:
            rows.append({"row_key": params.get("row_key", "total"), "cells": []})
    elif variant == "missing_field":
        del first_cell["status"]
    elif variant == "bad_status":
        first_cell["status"] = "zero"
    elif variant == "extra_field":
        first_cell["confidence"] = 0.9
    elif variant == "wrong_type":
        v = first_cell["value"]
        first_cell["value"] = int(Decimal(v)) if v is not None else 0
    return bad


def _prose(answer: JSON, table: TableId) -> str:
    parts = [
        f"{flat_key(table, r['row_key'], c['column'])}={c['value']}"
        for r in answer.get("rows", [])[:2]
        for c in r.get("cells", [])[:3]
    ]
    body = "；".join(parts) if parts else "未找到表格数据"
    return f"根据报告内容，该表的主要数据如下：{body}。如需完整数据，请提供更清晰的表格。"


# ---------------------------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeLLM


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as providers do; the client's connection pool is exercised
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK would add 40 ms
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.fake._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._dispatch(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays readable; every request is in `FakeLLM.requests` anyway."""


def _error(message: str, type_: str, code: str | None, param: str | None = None) -> JSON:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FakeLLM:
    """A scripted OpenAI-compatible chat-completions server (see the module docstring)."""

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        concurrency: int | None = None,
        models: Sequence[str] = ("fake",),
        api_key: str | None = None,
        enforce_max_tokens: bool = False,
        concurrency_retry_after: float = 1,
    ) -> None:
        self.latency = latency
        self.models = tuple(models)
        self.api_key = api_key
        # Off by default: this server's token count is coarser than a real tokenizer's, so a limit a
        # real model meets could be "exceeded" here. Turn on to test a client's max-tokens handling.
        self.enforce_max_tokens = enforce_max_tokens
        self.concurrency_retry_after = concurrency_retry_after
        self._port = port
        self._lock = threading.Lock()
        self._docs: list[Document] = []
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._injected: list[Injection] = []
        self._conns: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._policy_rate = 0.0
        self._policy_kinds: tuple[str, ...] = VALUE_FAULTS
        self._policy_rng = random.Random()
        self._concurrency: int | None = None
        self._sem: threading.BoundedSemaphore | None = None
        self.concurrency = concurrency

    # --- set-up -----------------------------------------------------------------------------

    def register(self, text: str, gold_cells: dict[str, dict[str, Any]], *, name: str | None = None) -> str:
        """Add a document; returns its name (used by `fault(doc=...)` and in the records)."""
        with self._lock:
            name = name or f"doc{len(self._docs) + 1}"
            numbers = frozenset(_NUMBERS_IN_TEXT.findall(text))
            self._docs.append(Document(name, text, re.sub(r"\s+", "", text), dict(gold_cells), numbers))
        return name

    @property
    def documents(self) -> list[Document]:
        with self._lock:
            return list(self._docs)

    @property
    def concurrency(self) -> int | None:
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("concurrency must be ≥ 1 or None")
        self._concurrency = value
        self._sem = threading.BoundedSemaphore(value) if value is not None else None

    def fault(
        self, kind: str, table: TableId | None = None, doc: str | None = None, times: int = 1, **params: Any
    ) -> Fault:
        """Queue a fault for the next `times` requests that match `table` and `doc` (None: any).

        Faults are tried in the order queued and a request takes the first that matches. A value
        fault matches only an answer it can change (e.g. `digit_swap` needs a reported value of two
        different adjacent digits, `key=` a particular cell), so it waits for one instead of vanishing.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be ≥ 1")
        if table is not None and table not in ("t2", "t3", "t4"):
            raise ValueError(f"unknown table {table!r}")
        unknown = set(params) - _PARAMS[kind]
        if unknown:
            raise TypeError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}; known: {sorted(_PARAMS[kind])}")
        if kind == "invalid_schema" and params.get("variant", "bad_row_key") not in INVALID_SCHEMA_VARIANTS:
            raise ValueError(f"invalid_schema variant must be one of {INVALID_SCHEMA_VARIANTS}")
        f = Fault(kind, table, doc, times, dict(params))
        with self._lock:
            self._faults.append(f)
        return f

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.remaining > 0]

    def set_value_fault_rate(self, rate: float, seed: int | None = None, kinds: Sequence[str] = VALUE_FAULTS) -> None:
        """Corrupt each answer with probability `rate` by one random value fault (scripted faults first)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        bad = [k for k in kinds if k not in VALUE_FAULTS]
        if bad or not kinds:
            raise ValueError(f"kinds must be value faults: {VALUE_FAULTS}")
        with self._lock:
            self._policy_rate = rate
            self._policy_kinds = tuple(kinds)
            self._policy_rng = random.Random(seed)

    def clear(self) -> None:
        """Forget recorded requests, injections and queued faults (documents stay)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._injected.clear()

    # --- observation --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def injected(self) -> list[Injection]:
        """A snapshot of every value fault applied so far."""
        with self._lock:
            return list(self._injected)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        if self._server is not None:
            return self
        self._stopped.clear()
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()  # wakes handlers sleeping for latency or a "slow" fault
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections would otherwise hold their threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not running; call start()")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- request handling ---------------------------------------------------------------------

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _record(self, h: _Handler, method: str, body: Any) -> RecordedRequest:
        with self._lock:
            rec = RecordedRequest(
                index=len(self._requests),
                method=method,
                path=h.path,
                headers={k.lower(): v for k, v in h.headers.items()},
                body=body,
                time=time.time(),
            )
            self._requests.append(rec)
        return rec

    def _send(
        self, h: _Handler, rec: RecordedRequest, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        with self._lock:
            rec.status = status
            rec.done = True
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.send_header("x-request-id", f"req_fake_{rec.index}")
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:  # the client gave up (timeout) or the server is stopping
            h.close_connection = True

    def _drop(self, h: _Handler, rec: RecordedRequest) -> None:
        with self._lock:
            rec.done = True
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopped.wait(seconds)

    def _dispatch(self, h: _Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        body_error = None
        if raw:
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                body_error = str(e)
        rec = self._record(h, method, body)
        path = h.path.split("?", 1)[0].rstrip("/")

        if self.api_key is not None and h.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._send(h, rec, 401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
            return
        if method == "GET" and path.endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "gouji-fake"} for m in self.models]
            self._send(h, rec, 200, {"object": "list", "data": data})
            return
        if method == "GET" and "/models/" in path and path.rsplit("/", 1)[1] in self.models:
            self._send(
                h, rec, 200, {"id": path.rsplit("/", 1)[1], "object": "model", "created": 0, "owned_by": "gouji-fake"}
            )
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            self._send(
                h, rec, 404, _error(f"Unknown request URL: {method} {h.path}", "invalid_request_error", "unknown_url")
            )
            return
        if body_error is not None:
            self._send(
                h,
                rec,
                400,
                _error(
                    f"We could not parse the JSON body of your request: {body_error}", "invalid_request_error", None
                ),
            )
            return

        try:
            ask = parse_ask(body)
        except BadRequest as e:
            self._send(h, rec, 400, _error(str(e), "invalid_request_error", None))
            return
        doc = self._resolve(ask.excerpt)
        with self._lock:
            rec.table, rec.version, rec.mode = ask.table, ask.version, ask.mode
            rec.doc = doc.name if doc is not None else None

        sem = self._sem
        if sem is not None and not sem.acquire(blocking=False):
            with self._lock:
                rec.fault = "concurrency"
            self._send(
                h,
                rec,
                429,
                _error(
                    "Too many concurrent requests for this model.", "rate_limit_exceeded", "concurrency_limit_exceeded"
                ),
                {"Retry-After": _num(self.concurrency_retry_after)},
            )
            return
        try:
            self._chat(h, rec, body, ask, doc)
        finally:
            if sem is not None:
                sem.release()

    def _resolve(self, excerpt: str | None) -> Document | None:
        if not excerpt:
            return None
        docs = self.documents
        hits = [d for d in docs if excerpt in d.text]
        if not hits:  # a client may re-flow whitespace; compare without it
            compact = re.sub(r"\s+", "", excerpt)
            hits = [d for d in docs if compact and compact in d.compact]
        return min(hits, key=lambda d: len(d.text)) if hits else None

    def _take_fault(
        self, ask: Ask, doc: Document | None, answer: JSON
    ) -> tuple[Fault | None, tuple[JSON, list[Change]] | None]:
        with self._lock:
            for f in self._faults:
                if f.remaining <= 0 or f.table not in (None, ask.table):
                    continue
                if f.doc is not None and (doc is None or doc.name != f.doc):
                    continue
                applied = None
                if f.kind in VALUE_FAULTS:
                    seed = f.params.get("seed")
                    rng = random.Random(seed + f.used) if isinstance(seed, int) else None
                    applied = apply_value_fault(f.kind, answer, ask.table, doc, f.params, rng)
                    if applied is None:
                        continue
                f.used += 1
                return f, applied
            if self._policy_rate > 0 and self._policy_rng.random() < self._policy_rate:
                kinds = list(self._policy_kinds)
                self._policy_rng.shuffle(kinds)
                for kind in kinds:
                    applied = apply_value_fault(kind, answer, ask.table, doc, {}, self._policy_rng)
                    if applied is not None:
                        return Fault(kind, None, None, 1, {"policy": True}, used=1), applied
        return None, None

    def _chat(self, h: _Handler, rec: RecordedRequest, body: JSON, ask: Ask, doc: Document | None) -> None:
        answer = gold_answer(doc.cells, ask.table, ask.version) if doc is not None else {"rows": []}
        fault, applied = self._take_fault(ask, doc, answer)
        with self._lock:
            rec.fault = fault.kind if fault is not None else None
            if fault is not None and applied is not None:
                answer = applied[0]
                source: Literal["script", "policy"] = "policy" if fault.params.get("policy") else "script"
                self._injected.append(
                    Injection(fault.kind, rec.index, rec.doc, ask.table, ask.version, tuple(applied[1]), source)
                )

        self._sleep(self.latency)
        kind = fault.kind if fault is not None else None
        params = fault.params if fault is not None else {}
        if kind == "429":
            code = str(params.get("code", "rate_limit_exceeded"))
            msg = params.get("message", "Rate limit reached for requests. Please try again later.")
            self._send(
                h,
                rec,
                429,
                _error(msg, "rate_limit_exceeded", code),
                {"Retry-After": _num(params.get("retry_after", 1))},
            )
            return
        if kind == "500":
            self._send(
                h,
                rec,
                500,
                _error(
                    params.get("message", "The server had an error while processing your request."),
                    "server_error",
                    None,
                ),
            )
            return
        if kind == "503":
            extra = {"Retry-After": _num(params["retry_after"])} if "retry_after" in params else None
            self._send(
                h,
                rec,
                503,
                _error(
                    params.get("message", "The engine is currently overloaded, please try again later."),
                    "server_error",
                    "overloaded",
                ),
                extra,
            )
            return
        if kind == "drop":
            self._drop(h, rec)
            return
        if kind == "slow":
            self._sleep(float(params.get("seconds", 5.0)))
        self._send(h, rec, 200, self._completion(ask, body, answer, kind, params))

    def _completion(self, ask: Ask, body: JSON, answer: JSON, kind: str | None, params: dict[str, Any]) -> JSON:
        text = dumps(answer)
        finish = "tool_calls" if ask.mode == "tools" else "stop"
        refusal: str | None = None
        prose = False
        if kind == "truncated_json":
            text = _cut(text, float(params.get("at", 0.5)))
        elif kind == "length" or (
            self.enforce_max_tokens and ask.max_tokens is not None and count_tokens(text) > ask.max_tokens
        ):
            fitted = _cut_to_tokens(text, ask.max_tokens) if ask.max_tokens is not None else text
            text = fitted if len(fitted) < len(text) else _cut(text, float(params.get("at", 0.5)))
            finish = "length"
        elif kind == "refusal":
            refusal = str(params.get("message", "I'm sorry, but I can't help with that request."))
        elif kind == "invalid_schema":
            text = dumps(_invalid_schema(answer, params))
        elif kind == "not_json":
            text = str(params.get("text") or _prose(answer, ask.table))
            prose = True

        message: JSON = {"role": "assistant", "content": None, "refusal": None, "tool_calls": None, "annotations": []}
        if refusal is not None:
            message["refusal"] = refusal
            finish = "stop"
            completion = refusal
        elif ask.mode == "tools" and not prose:
            message["tool_calls"] = [
                {
                    "id": f"call_fake_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": ask.tool_name or f"gouji_{ask.table}_{ask.version}", "arguments": text},
                }
            ]
            completion = text
        else:
            # In tools mode, prose means the model answered instead of calling the tool.
            message["content"] = text
            finish = "stop" if finish == "tool_calls" else finish
            completion = text
        p, c = prompt_tokens(body), count_tokens(completion)
        return {
            "id": f"chatcmpl-fake{next(self._ids):08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": ask.model,
            "system_fingerprint": "fp_gouji_fake",
            "service_tier": "default",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {
                "prompt_tokens": p,
                "completion_tokens": c,
                "total_tokens": p + c,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
        }


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


# ---------------------------------------------------------------------------------------------
# Command line


READABLE: Final = (".txt", ".md", ".html", ".htm")


def load_corpus(fake: FakeLLM, gold_dir: Path, reports_dir: Path) -> list[str]:
    """Register every report in `reports_dir` that has `gold_dir/<stem>.json`; returns their names."""
    names = []
    for path in sorted(reports_dir.iterdir()):
        gold = gold_dir / f"{path.stem}.json"
        if path.suffix.lower() not in READABLE or not gold.is_file():
            continue
        cells = json.loads(gold.read_text(encoding="utf-8"))["cells"]
        names.append(fake.register(read_document(path).text, cells, name=path.stem))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fake_openai", description="Serve gold answers as an OpenAI-compatible LLM."
    )
    ap.add_argument("--gold-dir", type=Path, required=True)
    ap.add_argument("--reports-dir", type=Path, required=True)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    ap.add_argument("--concurrency", type=int, default=None, help="answer 429 beyond this many requests in flight")
    ap.add_argument("--fault-rate", type=float, default=0.0, help="probability of a random value fault per answer")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    fake = FakeLLM(port=args.port, latency=args.latency, concurrency=args.concurrency)
    names = load_corpus(fake, args.gold_dir, args.reports_dir)
    if args.fault_rate:
        fake.set_value_fault_rate(args.fault_rate, args.seed)
    fake.start()
    print(f"fake LLM serving {len(names)} document(s) at {fake.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
        print(f"{len(fake.requests)} request(s), {len(fake.injected)} value fault(s) injected", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
