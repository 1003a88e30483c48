"""Versioned prompt files for the LLM extraction path, rendered with Jinja2.

The prompts live in `prompts/<version>/*.j2`, never as string literals in code, and every LLM result
records `PROMPT_VERSION`, so a reading can always be traced to the exact words that produced it. The
template's rows and columns are passed in from `schemas.template`, so a prompt cannot drift from the
model it asks for. The report text is inserted as delimited data; any delimiter inside it is defused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jinja2

from gouji.schemas.llm import TableId
from gouji.schemas.template import APPLICANT_COLUMNS, T4_GROUPS, T4_LEAVES, TABLE2, Version, table3_rows

PROMPT_VERSION = "v1"
_DIR = Path(__file__).resolve().parent / PROMPT_VERSION
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=False,
)
_TASK = {"t2": "table2.j2", "t3": "table3.j2", "t4": "table4.j2"}


def _defuse(text: str) -> str:
    """The report is data: a '<report>'/'</report>' inside it must not close the data block."""
    return text.replace("</report>", "＜/report＞").replace("<report>", "＜report＞")


def _context(table: TableId, version: Version, text: str, schema_json: str | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"version": version, "text": _defuse(text), "schema_json": schema_json}
    if table == "t2":
        ctx["blocks"] = TABLE2[version]
    elif table == "t3":
        ctx["rows"] = table3_rows(version)
        ctx["columns"] = APPLICANT_COLUMNS
    else:
        ctx["groups"] = [{"key": k, "label": label} for k, label in T4_GROUPS]
        ctx["leaves"] = [{"key": k, "label": label} for k, label in T4_LEAVES]
    return ctx


def system_prompt(version: Version) -> str:
    return _ENV.get_template("system.j2").render(version=version)


def task_prompt(table: TableId, version: Version, text: str, schema_json: str | None = None) -> str:
    """The user message for reading `table`; `schema_json` is spelled out for modes without schemas."""
    return _ENV.get_template(_TASK[table]).render(**_context(table, version, text, schema_json))


def repair_prompt(
    table: TableId,
    version: Version,
    text: str,
    failures: list[dict[str, Any]],
    previous: dict[str, str],
    schema_json: str | None = None,
) -> str:
    """A fresh user message (no chat history: a re-ask costs one table, not the whole conversation)."""
    ctx = _context(table, version, text, schema_json) | {
        "task_template": _TASK[table],
        "failures": failures,
        "previous": previous,
    }
    return _ENV.get_template("repair.j2").render(**ctx)


def prompt_fingerprint() -> str:
    """Hash of every prompt file of this version: a changed word changes the configuration fingerprint."""
    h = hashlib.sha256()
    for path in sorted(_DIR.glob("*.j2")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]
