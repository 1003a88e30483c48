"""Wire test against a real engine with constrained decoding: llama.cpp's llama-server, SmolLM2-135M, offline.

The fake server (`test_fake_server.py`) answers from gold; this one has a real engine turn the strict
JSON schema that openai's `.parse()` sends into a grammar and decode under it. What is checked is the
wire: the request is accepted as sent (no 400 over the strict schema), the answer ends by itself
(`finish_reason == "stop"`) and parses into the response model. A 135M model's values are wrong; what
is checked of them is that fusion with the deterministic reading sends every disagreement to review.

The first run builds llama-server from the llama-cpp-python sdist (about 6 minutes on 2 cores, cached in
~/.cache/gouji/llama-server/); later runs take seconds. Opt in with --slow or GOUJI_SLOW=1 (CI does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.lib._pydantic import to_strict_json_schema

from bench.llama_server import MODEL_ALIAS, serve
from gouji.schemas.llm import response_model
from gouji.worker.extract.segment import find_regions
from gouji.worker.llm.fusion import fuse, routes_to_review
from gouji.worker.llm.reading import answer_cells, locate
from gouji.worker.read import read_document
from gouji.worker.stages import read_report
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SEED = ROOT / "examples" / "reports" / "cq-scjgj-2020.txt"
T4_START, T4_END = "四、政府信息公开行政复议", "五、存在的主要问题"
# Fixed here (not the project's prompts/, which change): greedy decoding of a 135M model is only
# reproducible for a fixed prompt, and this one is known to end by itself with the settings below.
EXAMPLE = '{"rows":[{"row_key":"review","cells":[{"column":"total","raw":"0","value":"0","status":"reported"}]}]}'
SYSTEM = (
    "You read table 四 (政府信息公开行政复议、行政诉讼情况) of a Chinese government information-disclosure annual "
    "report. The report text is data, given between a line <report> and a line </report>. Answer with one line "
    "of compact JSON in the schema named in the task, for example:\n" + EXAMPLE
)
MAX_TOKENS = 700
# temperature 0 always. Unpenalised, SmolLM2 repeats cells until the token limit (finish_reason=length);
# a frequency penalty makes it close its arrays. 1.5 ends after ~50 tokens here; the others are fallbacks
# for a machine whose arithmetic differs (each that loops costs ~15 s).
SAMPLING: tuple[dict[str, Any], ...] = (
    {"frequency_penalty": 1.5},
    {"frequency_penalty": 2.0},
    {"frequency_penalty": 0.5},
)


def table4_text() -> str:
    text = SEED.read_text(encoding="utf-8")
    start = text.index(T4_START)
    return text[start : text.index(T4_END, start)].strip()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve() as url:
        yield url


def test_strict_json_schema_round_trip_through_llama_server(base_url: str) -> None:
    model = response_model("t4", "2019")
    user = f"Read table 四 of the report below.\nAnswer schema: {model.__name__}\n<report>\n{table4_text()}\n</report>"
    messages: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    assert "\n<report>\n" in user and user.endswith("\n</report>") and "Answer schema: gouji_t4_2019\n" in user
    client = OpenAI(base_url=base_url, api_key="none", max_retries=0, timeout=300)
    expected_format = {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": to_strict_json_schema(model), "strict": True},
    }
    cut: list[str] = []
    for sampling in SAMPLING:
        try:
            raw = client.chat.completions.with_raw_response.parse(
                model=MODEL_ALIAS,
                messages=messages,
                response_format=model,
                max_tokens=MAX_TOKENS,
                temperature=0,
                **sampling,
            )
        except openai.APIStatusError as e:
            pytest.fail(f"llama-server rejected the strict-schema request: HTTP {e.status_code}: {e.body}")
        assert raw.status_code == 200
        sent = json.loads(raw.http_request.content)
        assert sent["response_format"] == expected_format  # the strict schema went out as openai makes it
        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as e:
            cut.append(f"{sampling}: {e.completion.usage}")
            continue
        break
    else:
        pytest.fail(f"every sampling setting ran to max_tokens={MAX_TOKENS} (finish_reason=length): {cut}")

    choice = completion.choices[0]
    assert choice.finish_reason == "stop", (sampling, cut)
    assert choice.message.refusal is None
    parsed = choice.message.parsed
    assert isinstance(parsed, model), type(parsed)
    assert choice.message.content is not None
    assert model.model_validate_json(choice.message.content, strict=True) == parsed  # schema-valid as sent
    assert completion.usage is not None and 0 < completion.usage.completion_tokens < MAX_TOKENS

    # Its values are wrong; the identities and fusion must route every disagreement to review.
    doc = read_document(SEED)
    det = read_report(doc)
    layout = det.layout_obj()
    assert layout is not None and find_regions(doc).t4 is not None
    start, end = find_regions(doc).t4  # type: ignore[misc]
    llm_cells, _ = answer_cells(parsed, "t4", layout)
    for cell in llm_cells.values():
        locate(cell, doc.text, start, end)
    det_cells = det.flat_cells()
    fused = fuse(det_cells, llm_cells, layout)
    for key, cell in llm_cells.items():
        if (cell.status, cell.value) != (det_cells[key].status, det_cells[key].value):
            assert routes_to_review(fused[key]), (key, cell.value, fused[key])
    assert all(fused[k].value == det_cells[k].value or routes_to_review(fused[k]) for k in fused)
