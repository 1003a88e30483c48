"""Exports of the newest version of every report: long (one row per cell), wide (one row per report),
JSONL (one canonical report per line). The same functions serve `gouji export` and the HTTP API, so a
file is the same whichever way it was asked for.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gouji.schemas.report import CheckResult
from gouji.worker.service.vocabulary import Format
from gouji.worker.store.models import Batch, BatchDocument, CellRow, Document, ReportVersion

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "wide.csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/x-ndjson",
}
LONG_COLUMNS = (
    "document_id",
    "file_name",
    "agency",
    "report_year",
    "template_version",
    "version",
    "key",
    "value",
    "status",
    "raw",
    "unit",
    "flags",
    "span_start",
    "span_end",
    "source_anomaly",
)
META_COLUMNS = (
    "document_id",
    "file_name",
    "agency",
    "report_year",
    "template_version",
    "state",
    "version",
    "origin",
    "source_anomalies",
)


# A spreadsheet runs a text cell that starts like a formula (=, +, -, @, or a tab/CR that hides one): a file
# name such as "=HYPERLINK(…)" must open as the text it is. Numbers (a signed change count) stay numbers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """`value` as a spreadsheet cell that cannot run: text that starts like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


@dataclass(frozen=True)
class Latest:
    document: Document
    version: ReportVersion

    def anomalies(self) -> tuple[list[str], set[str]]:
        return source_anomalies(self.version.report)


def source_anomalies(report: dict[str, Any]) -> tuple[list[str], set[str]]:
    """Checks of a stored report that a reviewer confirmed as the agency's own errors, and their cells."""
    found = [CheckResult.model_validate(c) for c in report.get("checks", []) if c.get("source_anomaly")]
    return list(dict.fromkeys(c.label for c in found)), {k for c in found for k in c.operands}


def latest_versions(s: Session, batch_name: str | None = None) -> list[Latest]:
    newest = (
        select(ReportVersion.document_id, func.max(ReportVersion.version_no).label("v"))
        .group_by(ReportVersion.document_id)
        .subquery()
    )
    q = (
        select(Document, ReportVersion)
        .join(newest, newest.c.document_id == Document.id)
        .join(ReportVersion, (ReportVersion.document_id == Document.id) & (ReportVersion.version_no == newest.c.v))
        .order_by(Document.id)
    )
    if batch_name is not None:
        q = q.join(BatchDocument, BatchDocument.document_id == Document.id).join(Batch).where(Batch.name == batch_name)
    return [Latest(d, v) for d, v in s.execute(q).all()]


def long_rows(s: Session, batch_name: str | None = None) -> Iterator[dict[str, Any]]:
    for item in latest_versions(s, batch_name):
        d, v = item.document, item.version
        _, anomalous = item.anomalies()
        for c in s.scalars(select(CellRow).where(CellRow.version_id == v.id).order_by(CellRow.key)):
            yield {
                "document_id": d.id,
                "file_name": d.file_name,
                "agency": d.agency,
                "report_year": d.report_year,
                "template_version": d.template_version,
                "version": v.version_no,
                "key": c.key,
                "value": c.value,
                "status": c.status,
                "raw": c.raw,
                "unit": c.unit,
                "flags": ",".join(c.flags),
                "span_start": c.span_start,
                "span_end": c.span_end,
                "source_anomaly": c.key in anomalous,
            }


def wide_rows(s: Session, batch_name: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    keys: dict[str, None] = {}
    for item in latest_versions(s, batch_name):
        d, v = item.document, item.version
        row: dict[str, Any] = {
            "document_id": d.id,
            "file_name": d.file_name,
            "agency": d.agency,
            "report_year": d.report_year,
            "template_version": d.template_version,
            "state": d.state,
            "version": v.version_no,
            "origin": v.origin,
            "source_anomalies": ";".join(item.anomalies()[0]),
        }
        for c in s.scalars(select(CellRow).where(CellRow.version_id == v.id)):
            row[c.key] = c.value if c.status == "reported" else f"<{c.status}>"
            keys[c.key] = None
        rows.append(row)
    return [*META_COLUMNS, *sorted(keys)], rows


def export_bytes(s: Session, fmt: Format, batch_name: str | None = None) -> bytes:
    if fmt == "csv":
        return _csv(list(LONG_COLUMNS), list(long_rows(s, batch_name)))
    if fmt == "wide.csv":
        return _csv(*wide_rows(s, batch_name))
    if fmt == "jsonl":
        return b"".join(
            json.dumps(i.version.report, ensure_ascii=False).encode() + b"\n" for i in latest_versions(s, batch_name)
        )
    if fmt == "xlsx":
        from openpyxl import Workbook

        columns, rows = wide_rows(s, batch_name)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("reports")
        ws.append(columns)
        for r in rows:
            ws.append([spreadsheet_safe(r.get(c)) for c in columns])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows_long = list(long_rows(s, batch_name))
    table = pa.Table.from_pylist(
        rows_long,
        schema=pa.schema(
            [
                (
                    c,
                    pa.int64()
                    if c in ("document_id", "report_year", "version", "span_start", "span_end")
                    else pa.bool_()
                    if c == "source_anomaly"
                    else pa.string(),
                )
                for c in LONG_COLUMNS
            ]
        ),
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    w.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese CSV correctly
