"""The deterministic reading of one normalised document into a canonical `Report`, unchecked.

Order matters and runs one way: recognise (version, refusal) → segment → read tables → nest → narrative.
The result is a reading: nothing here runs the identities or grounding on it. That is the check stage's
job (worker/check/), run once on whatever reading is kept — this one, or its fusion with the LLM's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gouji.schemas.cells import Cell, Span
from gouji.schemas.report import (
    Deviation,
    Refusal,
    Report,
    RowLabel,
    Source,
    build_tables,
)
from gouji.schemas.template import Layout, cell_specs
from gouji.worker.extract.common import Reading
from gouji.worker.extract.meta import read_meta
from gouji.worker.extract.narrative import cell_hints, extract_claims
from gouji.worker.extract.segment import Regions, detect_version, find_regions, find_sections
from gouji.worker.extract.table2 import read_table2
from gouji.worker.extract.table3 import read_table3
from gouji.worker.extract.table4 import read_table4
from gouji.worker.read.document import NormalisedDoc

EXTRACTOR = "gouji-deterministic/0.1"


@dataclass(frozen=True)
class Extraction:
    """The deterministic reading (a report with no checks yet) and where its tables stand in the text,
    which the LLM path reads again rather than finding them a second time."""

    report: Report
    regions: Regions | None  # None when the document was refused before its tables were looked for


def extract(doc: NormalisedDoc) -> Extraction:
    meta = read_meta(doc)
    meta.sources = [
        Source(
            id="src0",
            uri=doc.path,
            media_type=doc.media_type,
            sha256=doc.sha256,
            text_sha256=doc.text_sha256,
            encoding=doc.encoding,
        )
    ]
    version, evidence, common = detect_version(doc)
    sections = find_sections(doc)
    base = {"template_evidence": evidence, "report": meta, "sections": sections, "extractor": EXTRACTOR}
    refusal = _refusal(doc, version, common, meta.title is not None)
    if refusal is not None or version is None:
        return Extraction(Report(template_version="unknown", refused=refusal, **base), None)

    regions = find_regions(doc)
    facts = extract_claims(doc.compact, doc.text, regions.narrative, sections)
    empty = Reading()
    r2 = (
        read_table2(doc, *regions.t2, version, cell_hints(facts) if version == "2021" else None)
        if regions.t2
        else empty
    )
    variant: Literal["single_row", "subrows"] = "single_row" if version == "2019" else "subrows"
    r3, lp_subtotal = empty, False
    if regions.t3:
        r3, variant, lp_subtotal = read_table3(doc, *regions.t3, version)
    r4 = read_table4(doc, *regions.t4, cell_hints(facts)) if regions.t4 else empty
    layout = Layout(version, variant, lp_subtotal)
    cells = {}
    for reading in (r2, r3, r4):
        cells.update(reading.cells)
    _fill_missing(cells, layout)
    labels: dict[str, RowLabel] = {**r2.labels, **r3.labels}
    meta_by_table = {"active_disclosure": r2.meta, "applications": r3.meta, "review_litigation": r4.meta}
    ad, ap, rl = build_tables(layout, cells, labels, meta_by_table, {**r2.headers, **r3.headers, **r4.headers})

    deviations = [
        *r2.deviations,
        *r3.deviations,
        *r4.deviations,
        *_version_deviations(meta.report_year, version, evidence.mixed),
    ]
    report = Report(
        template_version=version,
        layout={"other_processing": variant, "lp_subtotal": lp_subtotal},
        active_disclosure=ad,
        applications=ap,
        review_litigation=rl,
        narrative_facts=facts,
        deviations=deviations,
        unmapped=[*r2.unmapped, *r3.unmapped, *r4.unmapped],
        preamble={"text_prov": Span(start=0, end=sections[0].heading_prov.start)} if sections else None,
        **base,
    )
    return Extraction(report, regions)


def _refusal(doc: NormalisedDoc, version: str | None, common: int, has_title: bool) -> Refusal | None:
    if not doc.text.strip():
        return Refusal(code="empty", detail="the document has no text (a scan needs OCR)")
    if version is None or common < 3:
        if has_title:
            return Refusal(
                code="old_template",
                detail=(
                    "a disclosure report without the 2019/2021 template's tables (pre-2019 or non-template layout, D29)"
                ),
            )
        return Refusal(code="not_a_report", detail="no labels of the 政府信息公开工作年度报告 template were found")
    return None


def _fill_missing(cells: dict[str, Cell], layout: Layout) -> None:
    for spec in cell_specs(layout):
        if spec.key not in cells:
            cells[spec.key] = Cell(
                status="missing",
                reason=f"table {spec.table} not found in the document",
                unit=spec.column.unit,
                unit_source=spec.column.unit_source,
            )


def _version_deviations(year: int | None, version: str, mixed: bool) -> list[Deviation]:
    out = []
    if mixed:
        out.append(Deviation(code="D08", path="/template_version", detail="labels of both template versions found"))
    if year is not None and ((year >= 2021) != (version == "2021")):
        out.append(
            Deviation(
                code="X.version",
                path="/template_version",
                detail=f"report year {year} but {version}-format labels (template_mixed)",
            )
        )
    return out
