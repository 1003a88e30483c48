"""The review lifecycle: claim with a lease, edit cells, and close a task one of four ways.

Nothing is overwritten. Every action is an append-only `ReviewEvent`; the working draft of a task is its
base version with the task's edit events replayed in order, so a reload, a second browser or a crash
loses no edit; closing a task stores a new report version. The identities are re-run on every draft,
which is what lets the UI show at once which checks an edit makes pass.

Every change of a task's state is one conditional UPDATE: a claim (open, or a lease that has run out),
and every way out of a claim (submit, confirm, not a report, release) from "claimed by this reviewer".
Of two racing requests exactly one wins and the other is told why, on SQLite or PostgreSQL alike, so one
submitted draft makes exactly one version whatever the concurrency.

An edit that departs from what the source prints at the cell (the agency's own error corrected, a misread
fixed) is a source override: it needs a reason, the cell is flagged, and the checks report it (grounding
runs on every draft and every stored version against the document's text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from gouji.schemas.cells import NOT_GROUNDED, SOURCE_OVERRIDE, Cell
from gouji.schemas.localise import FixProposal, propose_fixes
from gouji.schemas.report import Report, notable_failures
from gouji.schemas.template import cell_specs
from gouji.worker.check.grounding import departs_from_print, printed
from gouji.worker.check.run import run_checks
from gouji.worker.errors import Conflict, Invalid, NotFound
from gouji.worker.extract.values import parse_cell
from gouji.worker.service.agencies import link
from gouji.worker.service.pipeline import store_version
from gouji.worker.store.models import Document, ReportVersion, ReviewEvent, ReviewTask, now

DEFAULT_LEASE = timedelta(seconds=1800)  # GOUJI_REVIEW_LEASE; the faces pass the configured one
EDITED = "reviewer_edit"  # flag of a cell whose value a reviewer changed
_STATUS_TEXT = {"blank": "", "dash": "-", "not_applicable": "/", "missing": "?"}


def shown(cell: Cell) -> str:
    """A cell as a reviewer types it: the number, "" for blank, "-" dash, "/" not applicable."""
    if cell.value is not None:
        return str(cell.value)
    return _STATUS_TEXT.get(cell.status, cell.raw)


def task_or_404(s: Session, task_id: int) -> ReviewTask:
    task = s.get(ReviewTask, task_id)
    if task is None:
        raise NotFound(f"no review task {task_id}")
    return task


def _event(s: Session, task: ReviewTask, who: str, action: str, **kw: str | None) -> None:
    s.add(ReviewEvent(task_id=task.id, actor=who, action=action, **kw))


def claim(s: Session, task_id: int, who: str, lease: timedelta = DEFAULT_LEASE) -> ReviewTask:
    task = task_or_404(s, task_id)
    if task.state == "submitted" and task.submitted_by == who:
        raise Conflict("four eyes: the second review must be done by another reviewer")
    at = now()
    result = s.execute(
        update(ReviewTask)
        .where(
            ReviewTask.id == task_id,
            or_(
                ReviewTask.state.in_(("open", "submitted")),
                and_(ReviewTask.state == "claimed", or_(ReviewTask.lease_until < at, ReviewTask.claimed_by == who)),
            ),
        )
        .values(state="claimed", claimed_by=who, lease_until=at + lease)
        .execution_options(synchronize_session=False)
    )
    s.refresh(task)
    if cast(CursorResult[Any], result).rowcount != 1:
        if task.state == "claimed":
            raise Conflict(f"task {task_id} is claimed by {task.claimed_by} until {task.lease_until:%H:%M} UTC")
        raise Conflict(f"task {task_id} is {task.state}")
    _event(s, task, who, "claim")
    return task


def _holding(task: ReviewTask, who: str, lease: timedelta) -> None:
    """The caller must hold an unexpired claim; acting renews it."""
    until = lease_of(task)
    if task.state != "claimed" or task.claimed_by != who or until is None or until < now():
        raise Conflict(f"claim task {task.id} first (it is {task.state}, held by {task.claimed_by or 'nobody'})")
    task.lease_until = now() + lease


def _edits(s: Session, task: ReviewTask) -> list[ReviewEvent]:
    q = select(ReviewEvent).where(ReviewEvent.task_id == task.id, ReviewEvent.action == "edit")
    return list(s.scalars(q.order_by(ReviewEvent.id)))


def apply_edit(report: Report, key: str, text: str, source: str | None = None) -> Cell:
    """Set one cell from what a reviewer typed; refuses what is not a value (a typo must not be stored).
    With the document's `source` text, a value that departs from what it prints at the cell is flagged
    `source_override`."""
    layout = report.layout_obj()
    spec = next((sp for sp in cell_specs(layout) if sp.key == key), None) if layout else None
    cell = report.flat_cells().get(key)
    if spec is None or cell is None:
        raise Invalid(f"this report has no cell {key!r}")
    parsed = parse_cell(text, spec.column)
    if parsed.status == "unparseable":
        raise Invalid(f"{key}: {parsed.reason}")
    cell.value, cell.status, cell.raw, cell.reason = parsed.value, parsed.status, text.strip(), None
    cell.flags = [f for f in cell.flags if f not in (NOT_GROUNDED, SOURCE_OVERRIDE, EDITED)] + [EDITED]
    if source is not None and departs_from_print(cell, source):
        cell.flags.append(SOURCE_OVERRIDE)
    return cell


@dataclass
class Draft:
    task: ReviewTask
    report: Report
    base: ReportVersion
    edited: dict[str, str]  # cell key → the reviewer's text, newest edit per cell
    source: str | None  # the document's normalised text (None for documents stored before it was kept)

    def fixes(self) -> list[FixProposal]:
        """The localiser's proposals, those that keep every printed value first (stable otherwise)."""
        layout = self.report.layout_obj()
        if layout is None:
            return []
        proposals = propose_fixes(self.report.flat_cells(), layout)
        return sorted(proposals, key=lambda p: bool(self.overrides(p)))

    def overrides(self, fix: FixProposal) -> list[str]:
        """The cells `fix` would set against what the source prints at them."""
        if self.source is None:
            return []
        cells = self.report.flat_cells()
        out = []
        for ch in fix.changes:
            after = cells[ch.key].model_copy(
                update={"value": ch.proposed, "status": "reported", "raw": str(ch.proposed)}
            )
            if departs_from_print(after, self.source):
                out.append(ch.key)
        return out


def draft(s: Session, task: ReviewTask) -> Draft:
    """The task's base version with its edits replayed and every identity re-run."""
    base = s.get(ReportVersion, task.version_id)
    assert base is not None  # a task's version is deleted only with the task (cascade)
    report = Report.model_validate(base.report)
    source = document_of(s, task).text
    edited: dict[str, str] = {}
    for ev in _edits(s, task):
        assert ev.cell_key is not None and ev.new is not None
        apply_edit(report, ev.cell_key, ev.new, source)
        edited[ev.cell_key] = ev.new
    run_checks(report, source)
    return Draft(task, report, base, edited, source)


def edit(
    s: Session,
    task: ReviewTask,
    who: str,
    key: str,
    text: str,
    reason: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> Draft:
    _holding(task, who, lease)
    current = draft(s, task)
    cell = current.report.flat_cells().get(key)
    old = shown(cell) if cell is not None else None
    edited = apply_edit(current.report, key, text, current.source)  # validates before anything is stored
    if SOURCE_OVERRIDE in edited.flags and not (reason or "").strip():
        shown_there = printed(edited, current.source or "") or "nothing"
        raise Invalid(f"{key}: changes a printed value (the source prints {shown_there!r} here); give a reason")
    _event(s, task, who, "edit", cell_key=key, old=old, new=text.strip(), reason=reason)
    s.flush()
    run_checks(current.report, current.source)  # the draft as replaying the events would build it
    current.edited[key] = text.strip()
    return current


def apply_fix(
    s: Session,
    task: ReviewTask,
    who: str,
    index: int,
    reason: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> Draft:
    """Apply the localiser's fix proposal number `index` (as listed for the current draft) as edits; one
    that changes a printed value needs the reviewer's reason, like any such edit."""
    _holding(task, who, lease)
    current = draft(s, task)
    proposals = current.fixes()
    if not 0 <= index < len(proposals):
        raise NotFound(f"no fix proposal {index} (there are {len(proposals)})")
    fix = proposals[index]
    overrides = current.overrides(fix)
    if overrides and not (reason or "").strip():
        raise Invalid(f"this proposal changes a printed value ({', '.join(overrides)}); give a reason")
    why = f"fix proposal: repairs {', '.join(fix.repairs)}" + (
        f"; {reason.strip()}" if reason and reason.strip() else ""
    )
    for change in fix.changes:
        edit(s, task, who, change.key, str(change.proposed), why, lease)
    return draft(s, task)


def document_of(s: Session, task: ReviewTask) -> Document:
    doc = s.get(Document, task.document_id)
    assert doc is not None  # a document's tasks are deleted with it (cascade)
    return doc


def _leave_claim(s: Session, task: ReviewTask, who: str, state: str, **values: Any) -> None:
    """Move a task `who` holds (an unexpired claim) to `state` in one conditional UPDATE: of concurrent
    requests to close or release one task exactly one wins; the others get a Conflict and change nothing."""
    at = now()
    result = s.execute(
        update(ReviewTask)
        .where(
            ReviewTask.id == task.id,
            ReviewTask.state == "claimed",
            ReviewTask.claimed_by == who,
            ReviewTask.lease_until >= at,
        )
        .values(state=state, claimed_by=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    s.refresh(task)
    if cast(CursorResult[Any], result).rowcount != 1:
        raise Conflict(f"claim task {task.id} first (it is {task.state}, held by {task.claimed_by or 'nobody'})")


def _close(s: Session, task: ReviewTask, who: str, state: str, doc_state: str) -> None:
    _leave_claim(s, task, who, state, closed_at=now())
    document_of(s, task).state = doc_state


def _new_version(s: Session, task: ReviewTask, report: Report, origin: str) -> ReportVersion:
    doc = document_of(s, task)
    version = store_version(s, doc, None, report, origin)
    task.result_version_id = version.id
    s.flush()
    link(s, doc)  # the cross-year checks follow the newest version
    return version


def submit(
    s: Session, task: ReviewTask, who: str, note: str | None = None, lease: timedelta = DEFAULT_LEASE
) -> ReviewTask:
    """Store the draft as a new version; accepted, or handed to a second reviewer when drawn for four eyes."""
    _holding(task, who, lease)
    current = draft(s, task)
    second_round = task.submitted_by is not None
    last_submit = max((e.id for e in events(s, task) if e.action == "submit"), default=0)
    changed = not second_round or any(e.id > last_submit for e in _edits(s, task))
    if task.second_review and not second_round:
        _leave_claim(s, task, who, "submitted", submitted_by=who)
    else:
        _close(s, task, who, "accepted", "accepted")
    if changed:
        _new_version(s, task, current.report, "review")
    _event(s, task, who, "submit", reason=note)
    s.flush()
    return task


def confirm_published(
    s: Session, task: ReviewTask, who: str, note: str, lease: timedelta = DEFAULT_LEASE
) -> ReviewTask:
    """The numbers are as published and the report itself is inconsistent: keep them, mark the failing
    identities as the agency's own (source anomalies), with the reviewer's note."""
    if not note.strip():
        raise Invalid("say why the published numbers stand (a note is required)")
    _holding(task, who, lease)
    current = draft(s, task)
    for check in notable_failures(current.report.checks):
        check.source_anomaly = True
    _close(s, task, who, "confirmed", "accepted")
    _new_version(s, task, current.report, "confirmed")
    _event(s, task, who, "confirm", reason=note.strip())
    s.flush()
    return task


def not_a_report(
    s: Session, task: ReviewTask, who: str, note: str | None = None, lease: timedelta = DEFAULT_LEASE
) -> ReviewTask:
    _holding(task, who, lease)
    _close(s, task, who, "not_report", "refused")
    _event(s, task, who, "not_report", reason=note)
    document_of(s, task).error = f"not a report (reviewer {who}{': ' + note if note else ''})"
    s.flush()
    return task


def release(s: Session, task: ReviewTask, who: str, lease: timedelta = DEFAULT_LEASE) -> ReviewTask:
    _holding(task, who, lease)
    _leave_claim(s, task, who, "submitted" if task.submitted_by else "open")
    _event(s, task, who, "release")
    s.flush()
    return task


def _claimable(who: str) -> Any:
    """Tasks this reviewer may claim now (not their own first review when four eyes apply), oldest first."""
    return (
        select(ReviewTask)
        .where(
            or_(
                ReviewTask.state == "open",
                and_(ReviewTask.state == "submitted", ReviewTask.submitted_by != who),
                and_(ReviewTask.state == "claimed", ReviewTask.lease_until < now()),
            )
        )
        .order_by(ReviewTask.id)
    )


def next_open(s: Session, who: str, exclude: int | None = None) -> ReviewTask | None:
    """The oldest task this reviewer may claim now (not their own first review when four eyes apply)."""
    q = _claimable(who)
    if exclude is not None:
        q = q.where(ReviewTask.id != exclude)
    found: ReviewTask | None = s.scalars(q.limit(1)).first()
    return found


def claim_next(
    s: Session, who: str, exclude: int | None = None, lease: timedelta = DEFAULT_LEASE, tries: int = 50
) -> ReviewTask | None:
    """Claim the oldest task this reviewer may take. Reviewers asking at the same moment race for the
    same oldest task; the claim is conditional, so a loser moves on to the next one instead of being told
    it is taken. None when nothing is left to claim."""
    skip: set[int] = {exclude} if exclude is not None else set()
    while True:
        q = _claimable(who)
        if skip:
            q = q.where(ReviewTask.id.not_in(skip))
        candidates = list(s.scalars(q.limit(tries)))
        if not candidates:
            return None
        for task in candidates:
            try:
                return claim(s, task.id, who, lease)
            except Conflict:
                skip.add(task.id)


def events(s: Session, task: ReviewTask) -> list[ReviewEvent]:
    return list(s.scalars(select(ReviewEvent).where(ReviewEvent.task_id == task.id).order_by(ReviewEvent.id)))


def aware(at: datetime) -> datetime:
    """A stored time, timezone-aware (SQLite hands datetimes back naive; they are stored in UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def lease_of(task: ReviewTask) -> datetime | None:
    return None if task.lease_until is None else aware(task.lease_until)
