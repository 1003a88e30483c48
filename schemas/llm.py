"""Response schemas for the LLM path: one small, shallow model per table and template version.

They are built from the template (so a new row is one template edit) and kept inside the subset that
OpenAI's strict structured outputs accept: every field required, `additionalProperties: false`, no
defaults, no dict-typed fields, no discriminated unions. Rows are arrays of `{row_key, cells}` whose
keys are enums, so a model cannot invent a row; every cell carries the text it read (`raw`), so that
what it claims can be found again in the source.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from gouji.schemas.template import (
    APPLICANT_COLUMNS,
    LP_SUBTOTAL,
    SINGLE_ROW,
    T4_GROUPS,
    T4_LEAVES,
    TABLE2,
    Version,
    table3_rows,
)

TableId = Literal["t2", "t3", "t4"]
TABLES: tuple[TableId, ...] = ("t2", "t3", "t4")
TABLE_PREFIX: dict[TableId, str] = {"t2": "active_disclosure", "t3": "applications", "t4": "review_litigation"}
SCHEMA_VERSION = "llm-tables/1"
CellStatus = Literal["reported", "blank", "dash", "not_applicable", "unparseable"]


def row_keys(table: TableId, version: Version) -> tuple[str, ...]:
    if table == "t2":
        return tuple(f"{b.key}.{r.key}" for b in TABLE2[version] for r in b.rows)
    if table == "t3":
        keys = [r.key for r in table3_rows(version)]
        extra = [SINGLE_ROW.key] if version == "2021" else []  # D09: a 2021 report may print one （六） row
        return (*keys, *extra) if version == "2021" else tuple(keys)
    return tuple(g for g, _ in T4_GROUPS)


def column_keys(table: TableId, version: Version) -> tuple[str, ...]:
    if table == "t2":
        return tuple(dict.fromkeys(c.key for b in TABLE2[version] for c in b.columns))
    if table == "t3":
        return (*(c.key for c in APPLICANT_COLUMNS), LP_SUBTOTAL.key)
    return tuple(leaf for leaf, _ in T4_LEAVES)


def flat_key(table: TableId, row_key: str, column: str) -> str:
    return f"{TABLE_PREFIX[table]}.{row_key}.{column}"


def _drop_titles(schema: dict[str, Any]) -> None:
    """Titles are pydantic's decoration, not instructions, and a provider bills every schema token."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_titles)


@functools.cache
def response_model(table: TableId, version: Version) -> type[BaseModel]:
    """The pydantic model the LLM must answer in for `table` of a `version` report."""
    rows_t: Any = Literal[row_keys(table, version)]
    cols_t: Any = Literal[column_keys(table, version)]
    cell = create_model(
        f"Cell_{table}_{version}",
        __base__=_Strict,
        column=(cols_t, ...),
        raw=(str, ...),
        value=(str | None, ...),
        status=(CellStatus, ...),
    )
    row = create_model(f"Row_{table}_{version}", __base__=_Strict, row_key=(rows_t, ...), cells=(list[cell], ...))
    return create_model(f"gouji_{table}_{version}", __base__=_Strict, rows=(list[row], ...))


def all_response_models() -> list[type[BaseModel]]:
    return [response_model(t, v) for t in TABLES for v in ("2019", "2021")]
