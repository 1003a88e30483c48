"""The tables. Every write that a redelivered or repeated task could make twice is guarded by a unique key
(content hash; document + configuration fingerprint; document + version number), so a retry finds the
row it made before instead of making a second one. Report versions and review events are append-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)


class BatchDocument(Base):
    """A document can arrive in several batches and is still one document."""

    __tablename__ = "batch_documents"
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    added_at: Mapped[datetime] = mapped_column(default=now)


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(500))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # received → accepted | review | refused | failed
    state: Mapped[str] = mapped_column(String(20), default="received", index=True)
    agency: Mapped[str | None] = mapped_column(String(200), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id", ondelete="SET NULL"), index=True)
    report_year: Mapped[int | None] = mapped_column(index=True)
    template_version: Mapped[str | None] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    # Work asked for and not yet finished: set when a document is ingested or re-run, cleared when its run
    # ends. The durable record of a request whose message may be lost (`gouji requeue`, the beat task).
    pending_since: Mapped[datetime | None] = mapped_column(index=True)
    # The normalised text (provenance offsets point into it) and page sizes, kept from processing: an
    # OCR'd scan takes seconds per page to read again, a review page must not.
    text: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    wants_llm: Mapped[bool] = mapped_column(default=False)
    # Times a worker started processing this document; counted before the work, committed at once, so a
    # document that kills its worker (out of memory, a hard time limit) is noticed on redelivery.
    deliveries: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    versions: Mapped[list[ReportVersion]] = relationship(back_populates="document", order_by="ReportVersion.version_no")


class ExtractionRun(Base):
    __tablename__ = "extraction_runs"
    __table_args__ = (UniqueConstraint("document_id", "fingerprint"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # seconds per stage
    started_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]


class ReportVersion(Base):
    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("document_id", "version_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("extraction_runs.id", ondelete="SET NULL"))
    version_no: Mapped[int]
    origin: Mapped[str] = mapped_column(String(20))  # extractor | review
    report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=now)
    document: Mapped[Document] = relationship(back_populates="versions")


class CellRow(Base):
    """The cells of every version in a long table, for querying across reports."""

    __tablename__ = "cells"
    __table_args__ = (Index("ix_cells_key_value", "key", "status"),)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(60))  # exact: integers and decimal strings
    status: Mapped[str] = mapped_column(String(20))
    raw: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(10))
    flags: Mapped[list[Any]] = mapped_column(default=list)
    span_start: Mapped[int | None]
    span_end: Mapped[int | None]


class CheckRow(Base):
    __tablename__ = "check_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id", ondelete="CASCADE"), index=True)
    check_id: Mapped[str] = mapped_column(String(60), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    lenient: Mapped[bool] = mapped_column(default=False)
    lhs: Mapped[str | None] = mapped_column(String(60))
    rhs: Mapped[str | None] = mapped_column(String(60))
    source_anomaly: Mapped[bool] = mapped_column(default=False)


class ReviewTask(Base):
    """A report waiting for a person (worker/service/review.py holds the lifecycle).

    open → claimed (a lease) → accepted, or → submitted → claimed by a second reviewer → accepted (four
    eyes); or confirmed (published numbers right, the report itself inconsistent) or not_report.
    """

    __tablename__ = "review_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id", ondelete="CASCADE"), unique=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    second_review: Mapped[bool] = mapped_column(default=False)  # drawn for four eyes when it was created
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    result_version_id: Mapped[int | None] = mapped_column(ForeignKey("report_versions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    closed_at: Mapped[datetime | None]


class ReviewEvent(Base):
    """Append-only: who changed what, when and why."""

    __tablename__ = "review_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    cell_key: Mapped[str | None] = mapped_column(String(120))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=now)


class Failure(Base):
    """Dead letters: what failed, where, how often — nothing is dropped silently."""

    __tablename__ = "failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(500))
    stage: Mapped[str] = mapped_column(String(30))
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=now)


class ApiToken(Base):
    """API tokens: only a hash is stored; the token itself is shown once, when created."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))  # viewer | uploader | reviewer | admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    revoked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class UiSession(Base):
    """A browser login (the review UI): the cookie holds a random id, only its hash is stored."""

    __tablename__ = "ui_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]


class Agency(Base):
    """One publishing body across years; several printed names can point at it (aliases)."""

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class AgencyAlias(Base):
    __tablename__ = "agency_aliases"
    alias: Mapped[str] = mapped_column(String(200), primary_key=True)  # normalised printed name
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)


class CrossYearCheck(Base):
    """The X.* checks between two consecutive years' newest versions (recomputed when either changes)."""

    __tablename__ = "cross_year_checks"
    __table_args__ = (UniqueConstraint("prev_version_id", "cur_version_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    year_prev: Mapped[int]
    year: Mapped[int]
    prev_version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id", ondelete="CASCADE"))
    cur_version_id: Mapped[int] = mapped_column(ForeignKey("report_versions.id", ondelete="CASCADE"))
    checks: Mapped[list[Any]] = mapped_column(default=list)
    failed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
