"""Every response schema fits OpenAI's strict structured-outputs subset (nothing local would reject one).

The rules checked are OpenAI's published ones for `strict: true`: the root is an object; every object
lists all its properties as required and sets `additionalProperties: false`; no keyword outside the
supported subset (defaults, composition other than anyOf, numeric/string/array constraints, formats);
no dict-typed fields; limits on nesting depth, property count and enum size. The stricter historical
limits (depth 5, 100 properties) are used so that older deployments accept the schemas too.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel

from gouji.schemas.llm import TABLES, TableId, all_response_models, column_keys, response_model, row_keys

FORBIDDEN = {
    "default",
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "discriminator",
    "const",
}
MAX_DEPTH, MAX_PROPERTIES, MAX_ENUM = 5, 100, 500


def strict_violations(schema: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    defs = schema.get("$defs", {})
    counted = {"properties": 0}

    def walk(node: Any, path: str, depth: int) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].split("/")[-1]
            if name not in defs:
                problems.append(f"{path}: dangling $ref {node['$ref']}")
            elif depth <= MAX_DEPTH + 1:
                walk(defs[name], f"{path}->{name}", depth)
            return
        for key in FORBIDDEN & node.keys():
            problems.append(f"{path}: keyword {key!r} is not supported in strict mode")
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            depth += 1
            if depth > MAX_DEPTH:
                problems.append(f"{path}: nested deeper than {MAX_DEPTH} objects")
            props = node.get("properties", {})
            counted["properties"] += len(props)
            if node.get("additionalProperties") is not False:
                problems.append(f"{path}: additionalProperties must be false")
            if set(node.get("required", [])) != set(props):
                problems.append(f"{path}: every property must be required")
            for name, sub in props.items():
                walk(sub, f"{path}.{name}", depth)
        if "enum" in node and len(node["enum"]) > MAX_ENUM:
            problems.append(f"{path}: enum larger than {MAX_ENUM}")
        if "items" in node:
            walk(node["items"], f"{path}[]", depth)
        for alt in node.get("anyOf", []):
            walk(alt, f"{path}|", depth)

    if schema.get("type") != "object":
        problems.append("root must be an object")
    walk(schema, "$", 0)
    if counted["properties"] > MAX_PROPERTIES:
        problems.append(f"more than {MAX_PROPERTIES} properties")
    return problems


@pytest.mark.parametrize("model", all_response_models(), ids=lambda m: m.__name__)
def test_response_schemas_are_strict_mode_valid(model: type[BaseModel]) -> None:
    assert strict_violations(to_strict_json_schema(model)) == []


def test_the_checker_catches_what_strict_mode_rejects() -> None:
    class Loose(BaseModel):
        a: int = 3
        b: dict[str, int]

    problems = strict_violations(to_strict_json_schema(Loose))
    assert any("default" in p for p in problems)
    assert any("additionalProperties" in p for p in problems)


@pytest.mark.parametrize("table", TABLES)
def test_enums_come_from_the_template(table: TableId) -> None:
    schema = to_strict_json_schema(response_model(table, "2021"))
    text = str(schema)
    assert all(k in text for k in row_keys(table, "2021"))
    assert all(k in text for k in column_keys(table, "2021"))
