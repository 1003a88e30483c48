"""The canonical report (docs/spec.md §7) and its conversion to and from the flat keys of docs/cell-keys.md.

The nested shape is what users read and what the JSON Schema documents; the flat shape is what the
identities, the gold files and the scorers use. Both are views of one model, so they cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from gouji.schemas.cells import NOT_PRINTED, Cell, Span
from gouji.schemas.template import (
    T4_GROUPS,
    T4_LEAVES,
    TABLE2,
    Layout,
    cell_specs,
    table3_columns,
)

SCHEMA_ID = "gov-info-annual-report/1"
TableStatus = Literal["reported", "partial", "not_reported", "missing"]
TemplateVersion = Literal["2019", "2021", "unknown"]


class _OmitAbsent(BaseModel):
    """Container whose None-valued fields are *absent* in JSON (absent ≠ null, docs/spec.md §7)."""

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class TableRow(_OmitAbsent):
    model_config = ConfigDict(extra="forbid")
    label_raw: str | None = None
    label_prov: Span | None = None
    cells: dict[str, Cell]


class Table2Block(_OmitAbsent):
    model_config = ConfigDict(extra="forbid")
    caption_raw: str | None = None
    caption_prov: Span | None = None
    header_raw: list[str] = Field(default_factory=list)
    rows: dict[str, TableRow]


class TableMeta(_OmitAbsent):
    status: TableStatus = "missing"
    prov: Span | None = None
    method: str | None = None


class ActiveDisclosure(TableMeta):
    model_config = ConfigDict(extra="forbid")
    art20_1: Table2Block | None = None
    art20_5: Table2Block | None = None
    art20_6: Table2Block | None = None
    art20_8: Table2Block | None = None
    art20_9: Table2Block | None = None


class OtherProcessing(_OmitAbsent):
    model_config = ConfigDict(extra="forbid")
    reported_as: Literal["single_row", "subrows"]
    subtotal: TableRow | None = None
    single_row: TableRow | None = None
    no_correction_overdue: TableRow | None = None
    fee_unpaid_overdue: TableRow | None = None
    other: TableRow | None = None


class ApplicationsRows(_OmitAbsent):
    model_config = ConfigDict(extra="forbid")
    new_received: TableRow
    carried_over: TableRow
    disclosed: TableRow
    partially_disclosed: TableRow
    withheld: dict[str, TableRow]  # 8 sub-rows and an optional printed "subtotal"
    unable: dict[str, TableRow]
    not_processed: dict[str, TableRow]
    other_processing: OtherProcessing
    outcome_total: TableRow
    carried_forward: TableRow


class Applications(TableMeta):
    model_config = ConfigDict(extra="forbid")
    columns_present: list[str] = Field(default_factory=list)
    header_raw: list[str] = Field(default_factory=list)
    rows: ApplicationsRows | None = None


class ReviewLitigation(TableMeta):
    model_config = ConfigDict(extra="forbid")
    review: dict[str, Cell] | None = None
    litigation_direct: dict[str, Cell] | None = None
    litigation_after_review: dict[str, Cell] | None = None
    header_raw: list[str] = Field(default_factory=list)


class TextRef(_OmitAbsent):
    text: str
    prov: Span | None = None


class Period(BaseModel):
    start: str | None = None
    end: str | None = None
    basis: str | None = None


class Source(BaseModel):
    id: str = "src0"
    uri: str | None = None
    media_type: str
    sha256: str
    text_sha256: str
    encoding: str | None = None


class ReportMeta(_OmitAbsent):
    title: TextRef | None = None
    agency: str | None = None
    scope_note: str | None = None
    report_year: int | None = None
    period: Period | None = None
    published_on: str | None = None
    sources: list[Source] = Field(default_factory=list)


class Section(_OmitAbsent):
    key: str
    number: str
    heading_raw: str
    heading_prov: Span
    body_prov: Span


class NarrativeFact(_OmitAbsent):
    kind: str
    value: int | None
    unit_word: str | None = None
    text: str
    section: str | None = None
    prov: Span
    check: str | None = None
    status: Literal["pass", "fail", "skipped"] | None = None
    compared_with: list[str] = Field(default_factory=list)
    matched: str | None = None  # which reading matched (N.received: "new" or "new+carried")


class CheckResult(BaseModel):
    id: str
    args: dict[str, str] = Field(default_factory=dict)
    severity: Literal["error", "warning", "info"]
    status: Literal["pass", "fail", "skipped"]
    lenient: bool = False
    lhs: int | str | None = None
    rhs: int | str | None = None
    operands: list[str] = Field(default_factory=list)
    source_anomaly: bool = False
    detail: str | None = None

    @property
    def label(self) -> str:
        """The check as people name it: id and argument values, "T4.total[review]"."""
        return f"{self.id}[{','.join(self.args.values())}]" if self.args else self.id


def notable_failures(checks: Iterable[CheckResult]) -> list[CheckResult]:
    """The failures a user must hear about: strict (not the lenient re-run) and above `info`."""
    return [c for c in checks if c.status == "fail" and not c.lenient and c.severity != "info"]


class Deviation(_OmitAbsent):
    code: str
    path: str
    detail: str


class Unmapped(_OmitAbsent):
    kind: str
    raw: str
    prov: Span | None = None


class TemplateEvidence(BaseModel):
    markers_2019: list[str] = Field(default_factory=list)
    markers_2021: list[str] = Field(default_factory=list)
    mixed: bool = False


class Refusal(BaseModel):
    """Why nothing was mapped: not a report, an old-template report, or no text to read."""

    code: Literal["not_a_report", "old_template", "needs_ocr", "empty"]
    detail: str


class Report(_OmitAbsent):
    model_config = ConfigDict(extra="forbid")
    schema_: str = Field(default=SCHEMA_ID, alias="schema")
    template_version: TemplateVersion
    template_evidence: TemplateEvidence = Field(default_factory=TemplateEvidence)
    layout: dict[str, Any] | None = None
    extractor: str | None = None
    refused: Refusal | None = None
    report: ReportMeta = Field(default_factory=ReportMeta)
    preamble: dict[str, Span] | None = None
    sections: list[Section] = Field(default_factory=list)
    active_disclosure: ActiveDisclosure | None = None
    applications: Applications | None = None
    review_litigation: ReviewLitigation | None = None
    narrative_facts: list[NarrativeFact] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    unmapped: list[Unmapped] = Field(default_factory=list)
    llm: dict[str, Any] | None = None  # the LLM path's configuration, per-table outcome and cost ledger

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # -- views -------------------------------------------------------------------------------

    def layout_obj(self) -> Layout | None:
        if self.template_version == "unknown":
            return None
        lay = self.layout or {}
        return Layout(
            self.template_version,
            lay.get("other_processing", "single_row" if self.template_version == "2019" else "subrows"),
            bool(lay.get("lp_subtotal", False)),
            frozenset(lay.get("subtotal_groups", ())),
        )

    def flat_cells(self) -> dict[str, Cell]:
        """The live cells keyed as in docs/cell-keys.md (absent cells are not invented).

        The values are the report's own Cell objects, so adding a flag to one flags the report.
        """
        layout = self.layout_obj()
        if layout is None:
            return {}
        out: dict[str, Cell] = {}
        for spec in cell_specs(layout):
            node: Any = getattr(self, spec.table)
            for part in spec.path:
                node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
            if isinstance(node, Cell):
                out[spec.key] = node
        return out

    def with_cells(self, cells: dict[str, Cell]) -> Report:
        """A copy of this report holding `cells` (flat keys) in place of its own; labels, table metadata and
        everything else are kept. How a fused or edited reading becomes a report without touching this one."""
        out = self.model_copy(deep=True)
        layout = out.layout_obj()
        if layout is None:
            return out
        for spec in cell_specs(layout):
            if spec.key not in cells:
                continue
            node: Any = getattr(out, spec.table)
            for part in spec.path[:-1]:
                node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
            if isinstance(node, dict) and spec.path[-1] in node:
                node[spec.path[-1]] = cells[spec.key]
        return out

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), ensure_ascii=False, indent=1)

    def cells_document(self) -> dict[str, Any]:
        """`--format cells`: {"template_version", "cells": {key: {value, status, raw}}}."""
        cells = {
            k: {"value": c.model_dump(mode="json")["value"], "status": c.status, "raw": c.raw}
            | ({"unit": c.unit} if c.unit_source == "cell" and c.unit else {})
            for k, c in self.flat_cells().items()
        }
        return {"template_version": self.template_version, "cells": cells}


# ---------------------------------------------------------------------------------------------
# Building the nested tables from flat cells


class RowLabel(BaseModel):
    label_raw: str
    label_prov: Span | None = None


def table_status(cells: list[Cell]) -> TableStatus:
    if not cells or all(c.status == "missing" for c in cells):
        return "missing"
    if all(c.status in ("blank", "missing") for c in cells):
        return "not_reported"
    return "reported" if all(c.status == "reported" for c in cells) else "partial"


def build_tables(
    layout: Layout,
    cells: dict[str, Cell],
    row_labels: dict[str, RowLabel] | None = None,
    meta: dict[str, TableMeta] | None = None,
    header_raw: dict[str, list[str]] | None = None,
) -> tuple[ActiveDisclosure, Applications, ReviewLitigation]:
    """Nest flat cells (keys of docs/cell-keys.md) into the three table objects of the canonical report.

    Every template cell of `layout` must be present in `cells`: the extractor marks what it could not
    read as missing rather than leaving holes.
    """
    labels = row_labels or {}
    meta = meta or {}
    header_raw = header_raw or {}
    specs = cell_specs(layout)
    missing_keys = [s.key for s in specs if s.key not in cells]
    if missing_keys:
        raise ValueError(f"cells missing for layout {layout}: {missing_keys[:5]}…")
    by_row: dict[str, dict[str, Cell]] = {}
    for spec in specs:
        by_row.setdefault(spec.key.rsplit(".", 1)[0], {})[spec.column.key] = cells[spec.key]

    def row(prefix: str) -> TableRow:
        lab = labels.get(prefix)
        return TableRow(
            label_raw=lab.label_raw if lab else None, label_prov=lab.label_prov if lab else None, cells=by_row[prefix]
        )

    def part(table: str) -> dict[str, Cell]:
        p = table + "."
        return {k[len(p) :]: c for k, c in cells.items() if k.startswith(p)}

    def meta_kwargs(table: str, table_cells: dict[str, Cell]) -> dict[str, Any]:
        m = meta.get(table, TableMeta())
        return {"status": table_status(list(table_cells.values())), "prov": m.prov, "method": m.method}

    blocks: dict[str, Table2Block] = {}
    for block in TABLE2[layout.version]:
        cap = labels.get(f"active_disclosure.{block.key}")
        blocks[block.key] = Table2Block(
            caption_raw=cap.label_raw if cap else block.caption,
            caption_prov=cap.label_prov if cap else None,
            header_raw=header_raw.get(f"active_disclosure.{block.key}", []),
            rows={r.key: row(f"active_disclosure.{block.key}.{r.key}") for r in block.rows},
        )
    ad = ActiveDisclosure(**meta_kwargs("active_disclosure", part("active_disclosure")), **blocks)

    def group(g: str) -> dict[str, TableRow]:
        prefix = f"applications.{g}."
        return {k[len(prefix) :]: row(k) for k in by_row if k.startswith(prefix)}

    rows = ApplicationsRows(
        new_received=row("applications.new_received"),
        carried_over=row("applications.carried_over"),
        disclosed=row("applications.disclosed"),
        partially_disclosed=row("applications.partially_disclosed"),
        withheld=group("withheld"),
        unable=group("unable"),
        not_processed=group("not_processed"),
        other_processing=OtherProcessing(reported_as=layout.other_processing, **group("other_processing")),
        outcome_total=row("applications.outcome_total"),
        carried_forward=row("applications.carried_forward"),
    )
    ap = Applications(
        **meta_kwargs("applications", part("applications")),
        columns_present=[c.key for c in table3_columns(layout)],
        header_raw=header_raw.get("applications", []),
        rows=rows,
    )

    t4 = part("review_litigation")
    groups4 = {g: {leaf: t4[f"{g}.{leaf}"] for leaf, _ in T4_LEAVES} for g, _ in T4_GROUPS}
    rl = ReviewLitigation(
        **meta_kwargs("review_litigation", t4), header_raw=header_raw.get("review_litigation", []), **groups4
    )
    return ad, ap, rl


def report_from_cells(doc: dict[str, Any]) -> Report:
    """A report from the flat `--format cells` document (as in the gold files), for checking hand edits.

    The layout variant is read from the keys present: a 2021 single （六） row (D09), a 法人 subtotal column.
    Cells the document lacks are `missing`; unknown keys are an error, so a typo cannot pass silently.
    """
    version = doc.get("template_version")
    if version not in ("2019", "2021"):
        raise ValueError(f"template_version must be 2019 or 2021, not {version!r}")
    raw_cells: dict[str, Any] = doc.get("cells") or {}
    single = version == "2019" or any(k.startswith("applications.other_processing.single_row.") for k in raw_cells)
    lp = any(k.endswith(".legal_person_subtotal") for k in raw_cells)
    layout = Layout(version, "single_row" if single else "subrows", lp)
    known = {spec.key for spec in cell_specs(layout)}
    unknown = sorted(set(raw_cells) - known)
    if unknown:
        raise ValueError(f"keys not in the {version} template: {', '.join(unknown[:5])}")
    cells = {k: Cell.model_validate(raw_cells[k]) if k in raw_cells else Cell(status="missing") for k in known}
    if version == "2021" and single:
        for k, c in cells.items():
            if k.startswith("applications.other_processing.") and ".single_row." not in k and c.status == "missing":
                c.flags.append(NOT_PRINTED)
    ad, ap, rl = build_tables(layout, cells)
    return Report(
        template_version=version,
        layout={"other_processing": layout.other_processing, "lp_subtotal": lp},
        active_disclosure=ad,
        applications=ap,
        review_litigation=rl,
    )


def json_schema() -> dict[str, Any]:
    """JSON Schema of the canonical report, for consumers outside Python."""
    schema = Report.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    return schema
