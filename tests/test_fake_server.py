"""The fake OpenAI-compatible server, exercised only through the real `openai` client over HTTP.

What these tests pin down is what an LLM client will meet: which exception or which odd-but-valid
answer each fault produces in openai 3.x, so the client's handling can be written against facts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pydantic
import pytest
from openai import OpenAI
from openai.lib._pydantic import to_strict_json_schema
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from gouji.schemas.llm import TableId, column_keys, flat_key, response_model, row_keys
from gouji.schemas.template import Version
from gouji.worker.read import read_document
from tests.conftest import ROOT
from tests.fake_openai import (
    VALUE_FAULTS,
    FakeLLM,
    count_tokens,
    load_corpus,
    prompt_tokens,
)

SEED = ROOT / "examples" / "reports" / "cq-scjgj-2020.txt"
SEED_GOLD = ROOT / "examples" / "gold" / "cq-scjgj-2020.json"
SYSTEM = "You read tables of Chinese government information-disclosure annual reports. Answer in the schema."
SECTIONS: dict[TableId, tuple[str, str]] = {
    "t2": ("二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况"),
    "t3": ("三、收到和处理政府信息公开申请情况", "四、政府信息公开行政复议"),
    "t4": ("四、政府信息公开行政复议", "五、存在的主要问题"),
}


@pytest.fixture(scope="module")
def seed_text() -> str:
    return read_document(SEED).text


@pytest.fixture(scope="module")
def seed_gold() -> dict[str, dict[str, Any]]:
    cells: dict[str, dict[str, Any]] = json.loads(SEED_GOLD.read_text(encoding="utf-8"))["cells"]
    return cells


@pytest.fixture
def fake(seed_text: str, seed_gold: dict[str, dict[str, Any]]) -> Iterator[FakeLLM]:
    with FakeLLM() as f:
        f.register(seed_text, seed_gold, name="cq")
        yield f


@pytest.fixture(scope="module")
def http() -> Iterator[openai.DefaultHttpxClient]:
    """One HTTP client for the module: building an SSL context per test would cost more than the tests."""
    with openai.DefaultHttpxClient() as h:
        yield h


@pytest.fixture
def client(fake: FakeLLM, http: openai.DefaultHttpxClient) -> OpenAI:
    return OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, http_client=http)


def excerpt(text: str, table: TableId) -> str:
    start, end = SECTIONS[table]
    i = text.index(start)
    return text[i : text.index(end, i)].strip()


def messages(text: str, table: TableId = "t3", version: Version = "2019") -> list[Any]:
    user = f"Read table {table} of this report.\nAnswer schema: gouji_{table}_{version}\n<report>\n{excerpt(text, table)}\n</report>\n"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def expected(gold: dict[str, dict[str, Any]], table: TableId, version: Version) -> dict[str, Any]:
    """The answer a perfect model gives (every seed cell is reported)."""
    rows = []
    for rk in row_keys(table, version):
        cells = [
            {"column": c, "raw": str(g["value"]), "value": str(g["value"]), "status": g["status"]}
            for c in column_keys(table, version)
            if (g := gold.get(flat_key(table, rk, c)))
        ]
        if cells:
            rows.append({"row_key": rk, "cells": cells})
    return {"rows": rows}


def flat(answer: dict[str, Any], table: TableId) -> dict[str, tuple[str | None, str]]:
    return {
        flat_key(table, r["row_key"], c["column"]): (c["value"], c["status"])
        for r in answer["rows"]
        for c in r["cells"]
    }


def tool_for(table: TableId, version: Version) -> Any:
    model = response_model(table, version)
    return {
        "type": "function",
        "function": {"name": model.__name__, "parameters": to_strict_json_schema(model), "strict": True},
    }


# --- happy paths ----------------------------------------------------------------------------------


def test_parse_json_schema_returns_gold(fake: FakeLLM, client: OpenAI, seed_text: str, seed_gold: Any) -> None:
    model = response_model("t3", "2019")
    r = client.chat.completions.parse(model="fake", messages=messages(seed_text), response_format=model)
    msg = r.choices[0].message
    assert msg.parsed == model.model_validate(expected(seed_gold, "t3", "2019"))
    assert r.choices[0].finish_reason == "stop" and msg.refusal is None and not msg.tool_calls
    assert r.model == "fake" and r.object == "chat.completion"
    rec = fake.requests[-1]
    assert (rec.path, rec.status, rec.table, rec.version, rec.doc, rec.mode) == (
        "/v1/chat/completions",
        200,
        "t3",
        "2019",
        "cq",
        "json_schema",
    )
    assert rec.body["response_format"]["json_schema"]["name"] == "gouji_t3_2019"
    assert rec.headers["authorization"] == "Bearer test"
    assert rec.headers["x-stainless-helper-method"] == "chat.completions.parse"


@pytest.mark.parametrize("table", ["t2", "t4"])
def test_other_tables(client: OpenAI, seed_text: str, seed_gold: Any, table: TableId) -> None:
    model = response_model(table, "2019")
    r = client.chat.completions.parse(model="fake", messages=messages(seed_text, table), response_format=model)
    parsed = r.choices[0].message.parsed
    assert parsed is not None
    got = flat(parsed.model_dump(), table)
    assert got == flat(expected(seed_gold, table, "2019"), table)
    if table == "t2":
        assert got["active_disclosure.art20_9.centralized_procurement.procurement_amount"] == ("36521.44", "reported")
        assert got["active_disclosure.art20_5.administrative_licensing.items_change"] == ("-7", "reported")


def test_responses_pass_strict_validation(fake: FakeLLM, seed_text: str, http: openai.DefaultHttpxClient) -> None:
    """The SDK's own strict response validation accepts every shape the server sends."""
    c = OpenAI(
        base_url=fake.base_url, api_key="test", max_retries=0, http_client=http, _strict_response_validation=True
    )
    tools = [tool_for("t3", "2019")]
    for kind in (None, "refusal", "length", "not_json", "truncated_json", "digit_swap"):
        if kind:
            fake.fault(kind, times=3)
        c.chat.completions.create(model="fake", messages=messages(seed_text), response_format={"type": "json_object"})
        c.chat.completions.create(model="fake", messages=messages(seed_text), tools=tools, tool_choice="required")
        c.chat.completions.create(model="fake", messages=messages(seed_text))
    assert fake.pending_faults == [] and len(fake.injected) == 3
    assert [m.id for m in c.models.list()] == ["fake"]


def test_json_object_mode(client: OpenAI, seed_text: str, seed_gold: Any) -> None:
    r = client.chat.completions.create(
        model="fake", messages=messages(seed_text), response_format={"type": "json_object"}
    )
    content = r.choices[0].message.content
    assert content is not None
    assert json.loads(content) == expected(seed_gold, "t3", "2019")


def test_tools_mode(fake: FakeLLM, client: OpenAI, seed_text: str, seed_gold: Any) -> None:
    r = client.chat.completions.create(
        model="fake",
        messages=messages(seed_text),
        tools=[tool_for("t3", "2019")],
        tool_choice={"type": "function", "function": {"name": "gouji_t3_2019"}},
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall) and call.function.name == "gouji_t3_2019"
    assert json.loads(call.function.arguments) == expected(seed_gold, "t3", "2019")
    assert fake.requests[-1].mode == "tools"

    # .parse() with a pydantic tool validates the arguments into the model.
    model = response_model("t3", "2019")
    p = client.chat.completions.parse(
        model="fake",
        messages=messages(seed_text),
        tools=[openai.pydantic_function_tool(model)],
        tool_choice={"type": "function", "function": {"name": "gouji_t3_2019"}},
    )
    assert p.choices[0].message.tool_calls is not None
    parsed_call = p.choices[0].message.tool_calls[0]
    assert parsed_call.function.parsed_arguments == model.model_validate(expected(seed_gold, "t3", "2019"))


def test_unknown_excerpt_answers_no_rows(fake: FakeLLM, client: OpenAI) -> None:
    msgs: list[Any] = [
        {"role": "user", "content": "Answer schema: gouji_t4_2021\n<report>\n某某县2023年没有这张表\n</report>"}
    ]
    r = client.chat.completions.parse(model="fake", messages=msgs, response_format=response_model("t4", "2021"))
    assert r.choices[0].message.parsed is not None and r.choices[0].message.parsed.model_dump() == {"rows": []}
    assert fake.requests[-1].doc is None and fake.requests[-1].version == "2021"


def test_shortest_containing_text_wins(fake: FakeLLM, client: OpenAI, seed_text: str, seed_gold: Any) -> None:
    part = excerpt(seed_text, "t3")
    other = {k: {**v, "value": 1} for k, v in seed_gold.items()}
    fake.register("前言\n" + part + "\n后记", other, name="short")
    fake.register("更长的前言。" * 400 + part, {}, name="long")
    client.chat.completions.create(model="fake", messages=messages(seed_text), response_format={"type": "json_object"})
    assert fake.requests[-1].doc == "short"
    # Whitespace re-flowed by a client still finds its document.
    squeezed = " ".join(part.split())
    msgs: list[Any] = [{"role": "user", "content": f"Answer schema: gouji_t3_2019\n<report>\n{squeezed}\n</report>"}]
    client.chat.completions.create(model="fake", messages=msgs, response_format={"type": "json_object"})
    assert fake.requests[-1].doc == "short"


def test_usage_is_deterministic(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    assert count_tokens("政府abc12345 ,.") == 2 + 2 + 2  # 政 府 | abc12345 → ceil(8/4) | , .
    assert count_tokens("abcde") == 2 and count_tokens("  \n") == 0 and count_tokens("a-b") == 3
    model = response_model("t3", "2019")
    a = client.chat.completions.parse(model="fake", messages=messages(seed_text), response_format=model)
    b = client.chat.completions.parse(model="fake", messages=messages(seed_text), response_format=model)
    assert a.usage == b.usage and a.usage is not None
    body = fake.requests[-1].body
    assert a.usage.prompt_tokens == prompt_tokens(body)
    assert a.usage.prompt_tokens == sum(count_tokens(m["content"]) + 4 for m in body["messages"]) + count_tokens(
        json.dumps(
            body["response_format"]["json_schema"]["schema"], ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
    )
    assert a.usage.completion_tokens == count_tokens(a.choices[0].message.content or "")
    assert a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens


# --- HTTP faults ---------------------------------------------------------------------------------


def test_429_rate_limit(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("429", retry_after=3)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="fake", messages=messages(seed_text))
    assert e.value.status_code == 429 and e.value.response.headers["retry-after"] == "3"
    assert e.value.code == "rate_limit_exceeded" and e.value.type == "rate_limit_exceeded"
    assert e.value.request_id == f"req_fake_{fake.requests[-1].index}"
    # consumed: the next request is answered
    client.chat.completions.create(model="fake", messages=messages(seed_text))
    assert [r.status for r in fake.requests] == [429, 200]
    assert fake.pending_faults == []


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors(fake: FakeLLM, client: OpenAI, seed_text: str, kind: str) -> None:
    fake.fault(kind)
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="fake", messages=messages(seed_text))
    assert e.value.status_code == int(kind)


def test_slow_triggers_client_timeout(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("slow", seconds=3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="fake", messages=messages(seed_text), timeout=0.2)


def test_drop_is_a_connection_error(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("drop")
    with pytest.raises(openai.APIConnectionError) as e:
        client.chat.completions.create(model="fake", messages=messages(seed_text))
    assert not isinstance(e.value, openai.APITimeoutError)
    assert fake.requests[-1].fault == "drop" and fake.requests[-1].status is None
    client.chat.completions.create(model="fake", messages=messages(seed_text))  # the client recovers


def test_faults_match_table_doc_and_times(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("500", table="t4")
    fake.fault("500", doc="nope")
    fake.fault("429", table="t3", times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="fake", messages=messages(seed_text, "t3"))
    client.chat.completions.create(model="fake", messages=messages(seed_text, "t3"))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="fake", messages=messages(seed_text, "t4"))
    assert [f.doc for f in fake.pending_faults] == ["nope"]
    with pytest.raises(TypeError):
        fake.fault("429", retry_afer=2)
    with pytest.raises(ValueError):
        fake.fault("teapot")


def test_concurrency_cap_answers_429(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.concurrency = 1
    fake.concurrency_retry_after = 2
    fake.latency = 0.4

    def call() -> str:
        try:
            client.chat.completions.create(model="fake", messages=messages(seed_text))
        except openai.RateLimitError as e:
            assert e.response.headers["retry-after"] == "2"
            assert e.code == "concurrency_limit_exceeded"
            return "429"
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: call(), range(2)))
    assert outcomes == ["429", "ok"]
    assert sorted(r.fault or "" for r in fake.requests) == ["", "concurrency"]


# --- answer-level faults --------------------------------------------------------------------------


def test_length_raises_from_parse(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("length")
    with pytest.raises(openai.LengthFinishReasonError) as e:
        client.chat.completions.parse(
            model="fake", messages=messages(seed_text), response_format=response_model("t3", "2019"), max_tokens=50
        )
    choice = e.value.completion.choices[0]
    assert choice.finish_reason == "length"
    assert e.value.completion.usage is not None and e.value.completion.usage.completion_tokens <= 50
    # .create() hands back the cut content instead of raising.
    fake.fault("length")
    r = client.chat.completions.create(
        model="fake", messages=messages(seed_text), response_format={"type": "json_object"}
    )
    assert r.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.choices[0].message.content or "")


def test_enforced_max_tokens_cuts_naturally(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.enforce_max_tokens = True
    r = client.chat.completions.create(model="fake", messages=messages(seed_text), max_completion_tokens=100)
    assert r.choices[0].finish_reason == "length" and r.usage is not None and r.usage.completion_tokens <= 100
    r = client.chat.completions.create(model="fake", messages=messages(seed_text), max_completion_tokens=100_000)
    assert r.choices[0].finish_reason == "stop"


def test_refusal(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("refusal", message="I can't help with that.")
    r = client.chat.completions.parse(
        model="fake", messages=messages(seed_text), response_format=response_model("t3", "2019")
    )
    msg = r.choices[0].message
    assert msg.refusal == "I can't help with that." and msg.parsed is None and msg.content is None
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("variant", "error_type"),
    [
        ("bad_row_key", "literal_error"),
        ("missing_field", "missing"),
        ("bad_status", "literal_error"),
        ("extra_field", "extra_forbidden"),
        ("wrong_type", "string_type"),
    ],
)
def test_invalid_schema_raises_validation_error(
    fake: FakeLLM, client: OpenAI, seed_text: str, variant: str, error_type: str
) -> None:
    fake.fault("invalid_schema", variant=variant)
    with pytest.raises(pydantic.ValidationError) as e:
        client.chat.completions.parse(
            model="fake", messages=messages(seed_text), response_format=response_model("t3", "2019")
        )
    assert error_type in {err["type"] for err in e.value.errors()}
    assert fake.requests[-1].status == 200  # the server answered; only the content is wrong


@pytest.mark.parametrize("kind", ["truncated_json", "not_json"])
def test_broken_json_raises_validation_error_from_parse(
    fake: FakeLLM, client: OpenAI, seed_text: str, kind: str
) -> None:
    """`.parse` validates with pydantic's JSON parser: broken JSON is a ValidationError, not a JSONDecodeError."""
    fake.fault(kind)
    with pytest.raises(pydantic.ValidationError) as e:
        client.chat.completions.parse(
            model="fake", messages=messages(seed_text), response_format=response_model("t3", "2019")
        )
    assert [err["type"] for err in e.value.errors()] == ["json_invalid"]


def test_broken_json_in_tools_mode(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    """A dict tool in `.parse` goes through json.loads (JSONDecodeError); a pydantic tool through pydantic."""
    fake.fault("truncated_json", times=2)
    with pytest.raises(json.JSONDecodeError):
        client.chat.completions.parse(model="fake", messages=messages(seed_text), tools=[tool_for("t3", "2019")])
    with pytest.raises(pydantic.ValidationError):
        client.chat.completions.parse(
            model="fake",
            messages=messages(seed_text),
            tools=[openai.pydantic_function_tool(response_model("t3", "2019"))],
        )
    fake.fault("not_json")
    r = client.chat.completions.create(model="fake", messages=messages(seed_text), tools=[tool_for("t3", "2019")])
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason == "stop"
    assert "根据报告" in (r.choices[0].message.content or "")


# --- value faults ---------------------------------------------------------------------------------


def _answer_flat(client: OpenAI, seed_text: str, table: TableId = "t3") -> dict[str, tuple[str | None, str]]:
    r = client.chat.completions.parse(
        model="fake", messages=messages(seed_text, table), response_format=response_model(table, "2019")
    )
    parsed = r.choices[0].message.parsed
    assert parsed is not None
    return flat(parsed.model_dump(), table)


@pytest.mark.parametrize("kind", VALUE_FAULTS)
def test_value_faults_are_schema_valid_and_recorded(
    fake: FakeLLM, client: OpenAI, seed_text: str, seed_gold: Any, kind: str
) -> None:
    fake.fault(kind)
    got = _answer_flat(client, seed_text)
    want = flat(expected(seed_gold, "t3", "2019"), "t3")
    (inj,) = fake.injected
    assert (inj.kind, inj.request, inj.doc, inj.table, inj.source) == (kind, 0, "cq", "t3", "script")
    diff = {k for k in want.keys() | got.keys() if want.get(k) != got.get(k)}
    assert diff == {c.key for c in inj.changes}
    for c in inj.changes:
        assert want[c.key] == (c.old, c.old_status)
        assert got.get(c.key, (None, "omitted")) == (c.new, c.new_status)
    if kind == "hallucinate":
        assert inj.new is not None and inj.new not in seed_text
    if kind == "wrong_status":
        assert (inj.new, inj.changes[0].new_status) == (None, "blank")
    if kind == "fused":
        assert inj.new == (inj.changes[0].old or "") + (inj.changes[1].old or "")


def test_value_fault_by_key_and_seed(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.fault("digit_swap", key="applications.new_received.total")
    assert _answer_flat(client, seed_text)["applications.new_received.total"] == ("615", "reported")
    assert (fake.injected[-1].key, fake.injected[-1].old, fake.injected[-1].new) == (
        "applications.new_received.total",
        "165",
        "615",
    )
    # A key the answer does not have leaves the fault queued.
    fake.fault("drop_digit", key="applications.no_such_row.total")
    _answer_flat(client, seed_text)
    assert len(fake.pending_faults) == 1 and len(fake.injected) == 1
    fake.clear()
    fake.fault("hallucinate", seed=7)
    fake.fault("hallucinate", seed=7)
    _answer_flat(client, seed_text)
    _answer_flat(client, seed_text)
    a, b = fake.injected
    assert (a.key, a.new) == (b.key, b.new)


def test_row_shift_moves_a_row_down(fake: FakeLLM, client: OpenAI, seed_text: str, seed_gold: Any) -> None:
    fake.fault("row_shift", row="disclosed")
    got = _answer_flat(client, seed_text)
    assert "applications.disclosed.total" not in got
    assert got["applications.partially_disclosed.total"] == (
        str(seed_gold["applications.disclosed.total"]["value"]),
        "reported",
    )


def test_value_fault_policy(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    fake.set_value_fault_rate(1.0, seed=3)
    tables: tuple[TableId, ...] = ("t2", "t3", "t4")
    for table in tables * 4:
        _answer_flat(client, seed_text, table)
    injected = fake.injected
    assert len(injected) == 12 and all(i.source == "policy" and i.changes for i in injected)
    assert len({i.kind for i in injected}) > 2
    fake.clear()
    fake.set_value_fault_rate(0.0)
    _answer_flat(client, seed_text)
    assert fake.injected == []


# --- the rest of the surface ---------------------------------------------------------------------


def test_models_404_and_bad_requests(fake: FakeLLM, client: OpenAI, seed_text: str) -> None:
    assert [m.id for m in client.models.list()] == ["fake"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(fake.base_url + "/embeddings", data=b"{}")
    assert e.value.code == 404 and json.loads(e.value.read())["error"]["code"] == "unknown_url"
    with pytest.raises(openai.BadRequestError):  # no "Answer schema:" line and no schema name
        client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    assert [r.status for r in fake.requests] == [200, 404, 400]


def test_api_key_is_checked_when_set(seed_text: str, seed_gold: Any, http: openai.DefaultHttpxClient) -> None:
    with FakeLLM(api_key="sekrit") as f:
        f.register(seed_text, seed_gold)
        c = OpenAI(base_url=f.base_url, api_key="wrong", max_retries=0, http_client=http)
        with pytest.raises(openai.AuthenticationError):
            c.chat.completions.create(model="fake", messages=messages(seed_text))


def test_load_corpus_and_command_line() -> None:
    gold, reports = ROOT / "examples" / "gold", ROOT / "examples" / "reports"
    with FakeLLM() as f:
        assert len(load_corpus(f, gold, reports)) == 5
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_openai",
            "--gold-dir",
            str(gold),
            "--reports-dir",
            str(reports),
            "--port",
            "0",
            "--latency",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving 5 document(s)" in line
        base = line.rsplit(" ", 1)[1].strip()
        with urllib.request.urlopen(base + "/models") as r:
            assert [m["id"] for m in json.load(r)["data"]] == ["fake"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
