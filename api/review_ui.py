"""The review UI: a queue, a task page (source beside the editable tables), and accuracy from corrections.

Server-rendered with Jinja2; a small static script adds the keyboard and sends each cell edit, and the
server answers with the re-run checks. Reviewers log in with their API token (its name is who they
are, its role what they may do); the browser gets a random session id in an HttpOnly, SameSite=Strict
cookie, and every form or edit must echo the session's CSRF token. Report HTML is shown only after
sanitising, and the Content-Security-Policy allows no inline script at all, so a script inside a report
cannot run in a reviewer's browser.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import nh3
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gouji.api.deps import AppSettings, Db
from gouji.api.grid import grids
from gouji.api.lru import ByteLRU
from gouji.schemas.cells import SOURCE_OVERRIDE
from gouji.schemas.report import Report
from gouji.schemas.rules import failures
from gouji.worker.errors import InputError, ReviewError
from gouji.worker.read import looks_like_html, read_bytes
from gouji.worker.read.decode import decode_bytes
from gouji.worker.read.pages import page_image
from gouji.worker.service import review
from gouji.worker.service.accuracy import COLUMNS as ACCURACY_COLUMNS
from gouji.worker.service.accuracy import accuracy
from gouji.worker.service.routing import REASONS
from gouji.worker.service.tokens import GRANTS, lookup, valid
from gouji.worker.settings import Settings
from gouji.worker.store.models import ApiToken, Batch, BatchDocument, Document, ReviewTask, UiSession, now

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "gouji_session"
LOGIN_COOKIE = "gouji_login"
SESSION_TTL = timedelta(hours=12)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
QUEUE_STATES = ("open", "claimed", "submitted")
PAGE_DPI = 110
QUEUE_PAGE = 500  # rows listed on the queue page; the counts cover every task


@dataclass(frozen=True)
class Reviewer:
    name: str
    role: str
    csrf: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _signed_in(request: Request, s: Session) -> Reviewer | None:
    sid = request.cookies.get(COOKIE)
    found = s.get(UiSession, _hash(sid)) if sid else None
    if found is None or review.aware(found.expires_at) < now():
        return None
    token = s.get(ApiToken, found.token_id)
    if token is None or not valid(token):
        return None
    return Reviewer(token.name, token.role, found.csrf)


def reviewer(request: Request, s: Db) -> Reviewer:
    """The signed-in reviewer; a browser without a session is sent to the login page."""
    who = _signed_in(request, s)
    if who is None:
        if request.method == "GET":
            target = quote(str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
            raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={target}"})
        raise HTTPException(401, "sign in first")
    if "review" not in GRANTS.get(who.role, frozenset()):
        raise HTTPException(403, f"role {who.role!r} may not review")
    return who


async def csrf_checked(request: Request, who: Annotated[Reviewer, Depends(reviewer)]) -> Reviewer:
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        sent = str((await request.form()).get("csrf", ""))
    if not _same(sent, who.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return who


Who = Annotated[Reviewer, Depends(reviewer)]
TaskId = Annotated[int, PathParam(ge=1, le=2**62)]  # a bigger number is no task, and must not reach the database
Writer = Annotated[Reviewer, Depends(csrf_checked)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _back(url: str, msg: str | None = None) -> RedirectResponse:
    return RedirectResponse(url + (("&" if "?" in url else "?") + urlencode({"msg": msg}) if msg else ""), 303)


def _age(task: ReviewTask) -> str:
    minutes = int((now() - review.aware(task.created_at)).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


def _check_view(d: review.Draft) -> dict[str, Any]:
    """What the checks panel shows: failures now, and those the reviewer's edits have made pass."""
    before = {c.label for c in failures(Report.model_validate(d.base.report).checks)}
    now_failing = failures(d.report.checks)
    labels = {c.label for c in now_failing}
    return {
        "failing": now_failing,
        "resolved": sorted(before - labels),
        "fixes": [(f, set(d.overrides(f))) for f in d.fixes()],
        # a reviewer's override has its own mark (the cell's "override" class), not the outline of a failure
        "bad": sorted({k for c in now_failing if c.severity != "info" and c.id != "G.override" for k in c.operands}),
        "overrides": sorted(k for k, c in d.report.flat_cells().items() if SOURCE_OVERRIDE in c.flags),
    }


def _fragments(s: Session, d: review.Draft) -> JSONResponse:
    """What a cell edit changes on the task page: checks, outlined and edited cells, values, audit log."""
    view = _check_view(d)
    return JSONResponse(
        {
            "checks_html": templates.get_template("_checks.html").render(**view),
            "audit_html": templates.get_template("_audit.html").render(events=review.events(s, d.task)),
            "bad": view["bad"],
            "edited": sorted(d.edited),
            "overrides": view["overrides"],
            "values": {k: review.shown(c) for k, c in d.report.flat_cells().items()},
        }
    )


def _source(doc: Document, settings: Settings) -> tuple[str, str | None, list[dict[str, Any]]]:
    """The normalised text (provenance offsets point into it), a web page's sanitised HTML, page sizes."""
    text, pages = doc.text, doc.pages or []
    if text is None:  # stored before documents kept their text (migration 0007): read it again
        try:
            normalised = read_bytes(doc.content, doc.file_name, settings.read_options())
        except InputError as e:
            return f"(the source cannot be shown: {e.problem})", None, []
        text, pages = normalised.text, [asdict(p) for p in normalised.pages]
    if not looks_like_html(doc.content):
        return text, None, pages
    html, _ = decode_bytes(doc.content, doc.file_name)
    return text, nh3.clean(html), pages


def _page_png(request: Request, doc: Document, page: int) -> bytes:
    """A PDF or image source's page as PNG, kept per process: a scan's page is prepared again as OCR
    prepared it, about a second."""
    cache: ByteLRU = request.app.state.page_pictures
    settings: Settings = request.app.state.settings
    key = (doc.sha256, page)
    png = cache.get(key)
    if png is None:
        png = page_image(doc.content, doc.file_name, page, PAGE_DPI, settings.read_options())
        cache.put(key, png)
    return png


router = APIRouter(include_in_schema=False)


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.review_lease)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/review", 303)


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets as sent (any text: a non-ASCII value is simply wrong)."""
    return secrets.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _login_page(request: Request, next: str, msg: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in form with a fresh CSRF token, also set in a cookie that only this site's pages send
    (SameSite=Strict): a form on another site cannot sign a browser in as someone else (login CSRF)."""
    nonce = secrets.token_urlsafe(24)
    target = next if next.startswith("/") and not next.startswith("//") else "/review"
    response = page(request, "login.html", status, next=target, msg=msg, csrf=nonce)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=1800, httponly=True, samesite="strict", path="/login")
    return response


def _own_origin(request: Request) -> bool:
    """A browser says where a form came from (Origin, else Referer); it must be this site."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed:
        return True  # not a browser form (curl, a script): the CSRF token alone decides
    here = urlsplit(str(request.url))
    there = urlsplit(claimed)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


@router.get("/login")
def login_form(request: Request, next: str = "/review", msg: str | None = None) -> HTMLResponse:
    return _login_page(request, next, msg)


@router.post("/login")
def login(
    request: Request,
    s: Db,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/review",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    if not _own_origin(request):
        return _login_page(request, next, "sign in from this site's own sign-in page", 403)
    if not _same(request.cookies.get(LOGIN_COOKIE, ""), csrf) or not csrf:
        return _login_page(request, next, "the sign-in form has expired: try again", 403)
    found = lookup(s, token.strip())
    if found is None:
        return _login_page(request, next, "unknown, revoked or expired token", 401)
    sid = secrets.token_urlsafe(32)
    s.add(
        UiSession(id_hash=_hash(sid), token_id=found.id, csrf=secrets.token_urlsafe(24), expires_at=now() + SESSION_TTL)
    )
    s.commit()  # before the browser follows the redirect (the session dependency would commit after it)
    response = RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/review", 303)
    response.set_cookie(COOKIE, sid, max_age=int(SESSION_TTL.total_seconds()), httponly=True, samesite="strict")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, s: Db, who: Writer) -> RedirectResponse:
    sid = request.cookies.get(COOKIE, "")
    found = s.get(UiSession, _hash(sid))
    if found is not None:
        s.delete(found)
        s.commit()
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/review")
def queue(
    request: Request,
    s: Db,
    who: Who,
    reason: str | None = None,
    agency: str | None = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    batch: str | None = None,
    state: str = "open",
    msg: str | None = None,
) -> HTMLResponse:
    q = select(ReviewTask, Document).join(Document, Document.id == ReviewTask.document_id)
    states = QUEUE_STATES if state == "open" else (state,)
    q = q.where(ReviewTask.state.in_(states))
    if agency:
        q = q.where(Document.agency.contains(agency))
    if year is not None:
        q = q.where(Document.report_year == year)
    if batch:
        q = q.join(BatchDocument, BatchDocument.document_id == Document.id).join(Batch).where(Batch.name == batch)
    rows = [(t, d) for t, d in s.execute(q.order_by(ReviewTask.id)).all() if not reason or reason in t.reasons]
    counts: dict[str, int] = dict.fromkeys(REASONS, 0)
    for t, _ in rows:
        for code in t.reasons:
            counts[code] = counts.get(code, 0) + 1
    by_state = dict(s.execute(select(ReviewTask.state, func.count()).group_by(ReviewTask.state)).all())
    batches = list(s.scalars(select(Batch.name).order_by(Batch.name)))
    filters = {
        "reason": reason or "",
        "agency": agency or "",
        "year": year or "",
        "batch": batch or "",
        "state": state,
    }
    return page(
        request,
        "queue.html",
        who=who,
        rows=[(t, d, _age(t)) for t, d in rows[:QUEUE_PAGE]],
        total=len(rows),
        counts=counts,
        by_state=by_state,
        reasons=REASONS,
        batches=batches,
        filters=filters,
        msg=msg,
    )


@router.post("/review/next")
def next_task(
    s: Db, settings: AppSettings, who: Writer, after: Annotated[int | None, Form(ge=1, le=2**62)] = None
) -> RedirectResponse:
    task = review.claim_next(s, who.name, exclude=after, lease=_lease(settings))
    if task is None:
        return _back("/review", "the queue is empty")
    s.commit()
    return RedirectResponse(f"/review/tasks/{task.id}", 303)


@router.get("/review/tasks/{task_id}")
def task_page(
    request: Request, s: Db, settings: AppSettings, who: Who, task_id: TaskId, msg: str | None = None
) -> HTMLResponse:
    started = time.perf_counter()
    task = review.task_or_404(s, task_id)
    doc = review.document_of(s, task)
    d = review.draft(s, task)
    layout = d.report.layout_obj()
    text, html, pages = _source(doc, settings)
    response = page(
        request,
        "task.html",
        who=who,
        task=task,
        doc=doc,
        report=d.report,
        cells=d.report.flat_cells(),
        shown=review.shown,
        grids=grids(layout) if layout else [],
        edited=d.edited,
        text=text,
        html=html,
        pages=pages,
        events=review.events(s, task),
        reasons=REASONS,
        mine=task.state == "claimed" and task.claimed_by == who.name,
        lease=review.lease_of(task),
        msg=msg,
        **_check_view(d),
    )
    response.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


@router.get("/review/tasks/{task_id}/pages/{page}.png")
def page_png(
    request: Request, s: Db, who: Who, task_id: TaskId, page: Annotated[int, PathParam(ge=1, le=10_000)]
) -> Response:
    doc = review.document_of(s, review.task_or_404(s, task_id))
    try:
        png = _page_png(request, doc, page)
    except InputError as e:
        raise HTTPException(404, e.problem) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/review/tasks/{task_id}/claim")
def claim(s: Db, settings: AppSettings, who: Writer, task_id: TaskId) -> RedirectResponse:
    try:
        review.claim(s, task_id, who.name, _lease(settings))
    except ReviewError as e:
        return _back(f"/review/tasks/{task_id}", e.message)
    s.commit()
    return RedirectResponse(f"/review/tasks/{task_id}", 303)


@router.post("/review/tasks/{task_id}/cells")
def edit_cell(
    s: Db,
    settings: AppSettings,
    who: Writer,
    task_id: TaskId,
    key: Annotated[str, Form()],
    value: Annotated[str, Form()] = "",
    reason: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    started = time.perf_counter()
    d = review.edit(s, review.task_or_404(s, task_id), who.name, key, value, reason, _lease(settings))
    response = _fragments(s, d)
    s.commit()
    response.headers["Server-Timing"] = f"edit;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


@router.post("/review/tasks/{task_id}/fixes/{index}")
def apply_fix(
    s: Db,
    settings: AppSettings,
    who: Writer,
    task_id: TaskId,
    index: Annotated[int, PathParam(ge=0, le=1000)],
    reason: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    d = review.apply_fix(s, review.task_or_404(s, task_id), who.name, index, reason, _lease(settings))
    response = _fragments(s, d)
    s.commit()
    return response


@router.post("/review/tasks/{task_id}/{action}")
def close(
    s: Db,
    settings: AppSettings,
    who: Writer,
    task_id: TaskId,
    action: str,
    note: Annotated[str | None, Form()] = None,
    then: Annotated[str, Form()] = "queue",
) -> RedirectResponse:
    task = review.task_or_404(s, task_id)
    lease = _lease(settings)
    try:
        if action == "submit":
            review.submit(s, task, who.name, note, lease)
        elif action == "confirm":
            review.confirm_published(s, task, who.name, note or "", lease)
        elif action == "not-report":
            review.not_a_report(s, task, who.name, note, lease)
        elif action == "release":
            review.release(s, task, who.name, lease)
        else:
            raise HTTPException(404, f"no action {action!r}")
    except ReviewError as e:
        return _back(f"/review/tasks/{task_id}", e.message)
    s.commit()
    done = f"task {task_id}: {task.state}"
    if then == "next" and action != "release":
        nxt = review.claim_next(s, who.name, lease=lease)
        if nxt is not None:
            s.commit()
            return _back(f"/review/tasks/{nxt.id}", done)
    return _back("/review", done)


@router.get("/review/accuracy")
def accuracy_page(request: Request, s: Db, who: Who) -> HTMLResponse:
    return page(request, "accuracy.html", who=who, tables=accuracy(s))


@router.get("/review/accuracy.csv")
def accuracy_csv(s: Db, who: Who) -> Response:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(ACCURACY_COLUMNS))
    w.writeheader()
    for rows in accuracy(s).values():
        w.writerows(rows)
    return Response(
        ("\ufeff" + buf.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gouji-accuracy.csv"'},
    )
