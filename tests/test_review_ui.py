"""The review UI in a real browser: Playwright driving Debian's chromium against a live uvicorn server.

Chromium comes from Debian (`apt-get install chromium`; .ci/run installs it), never from Playwright's
own download, and starts headless with a fresh user-data-dir per browser session.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gouji.schemas.report import Report
from gouji.worker.service.pipeline import add_document, batch, process, request_work
from gouji.worker.service.tokens import create_token
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, ReportVersion, ReviewEvent, ReviewTask
from tests.conftest import ROOT, SHARED
from tests.test_api import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
HONGZE_2023 = SHARED / "reports" / "hongze-2023.txt"
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"),
    pytest.mark.skipif(not HONGZE_2023.exists(), reason="needs ../shared/corpus"),
]
XSS_HTML = (
    (ROOT / "examples" / "reports" / "synth-2021-html-7.html")
    .read_text(encoding="utf-8")
    .replace(
        "<body>",
        "<body><script>window.__xss = 'script'</script><img src=x onerror=\"window.__xss='onerror'\">"
        "<svg onload=\"window.__xss='svg'\"></svg><a id=jsurl href=\"javascript:window.__xss='href'\">x</a>"
        "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
        1,
    )
)


def ingest(url: str, name: str, data: bytes, settings: Settings | None = None) -> int:
    with session(url) as s:
        doc, _ = add_document(s, data, name, batch(s, "ui"))
        request_work(doc, None)
        process(s, doc, settings or Settings())
        return doc.id


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    ingest(url, "hongze-2023.txt", HONGZE_2023.read_bytes())
    # the clean page is drawn for QA, so it is reviewable
    ingest(url, "xss.html", XSS_HTML.encode("utf-8"), Settings(review_qa_share=1))
    with session(url) as s:
        tokens = {n: create_token(s, n, r) for n, r in (("ana", "reviewer"), ("bo", "reviewer"), ("up", "uploader"))}
    with Server(url) as base:
        yield base, url, tokens


def task_of(url: str, file_name: str) -> int:
    with session(url) as s:
        q = select(ReviewTask.id).join(Document, Document.id == ReviewTask.document_id)
        return s.scalars(q.where(Document.file_name == file_name)).one()


def sign_in(page, base: str, token: str, target: str = "/review") -> None:  # type: ignore[no-untyped-def]
    page.goto(base + target)
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + target) + "$"))


@pytest.fixture
def browser_session(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        contexts = []

        def open_context(name: str):  # type: ignore[no-untyped-def]
            ctx = p.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{name}"),
                executable_path=CHROMIUM,
                args=ARGS,
                headless=True,
                viewport={"width": 1600, "height": 1000},
            )
            contexts.append(ctx)
            return ctx.pages[0] if ctx.pages else ctx.new_page()

        yield open_context
        for ctx in contexts:
            ctx.close()


def test_claim_fix_from_the_keyboard_submit_and_audit(site, browser_session) -> None:  # type: ignore[no-untyped-def]
    base, url, tokens = site
    task_id = task_of(url, "hongze-2023.txt")
    page = browser_session("ana")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, tokens["ana"])
    assert page.locator("table.tasks").inner_text().count("hongze-2023.txt") == 1
    page.click(f"a[href='/review/tasks/{task_id}']")
    page.click("#claim")
    checks = page.locator("#checks")
    assert "T4.total[review]" in checks.inner_text() and "0 ≠ 11" in checks.inner_text()
    total = page.locator("input[data-key='review_litigation.review.total']")
    assert "bad" in (total.locator("xpath=..").get_attribute("class") or "")
    # the page focuses the first outlined cell (结果维持 of 行政复议); walk to 总计 with the arrow keys
    assert page.evaluate("document.activeElement.dataset.key") == "review_litigation.review.upheld"
    assert page.locator("mark#span").inner_text() == "10"  # its provenance span, highlighted in the source
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.key") == "review_litigation.review.total"
    page.keyboard.type("11")
    page.keyboard.press("Enter")
    # the PDF prints 0 there (the agency's own error): changing a printed value needs a reason
    page.wait_for_selector("#edit-error:has-text('changes a printed value')")
    assert page.evaluate("document.activeElement.id") == "edit-reason"
    page.keyboard.type("维持10 + 纠正1: the printed 总计 0 is the agency's slip")
    page.keyboard.press("Enter")
    page.wait_for_selector("#checks .resolved li:has-text('T4.total[review] now passes')")
    assert "G.override[review_litigation.review.total]" in page.locator("#checks ul.failing").inner_text()
    assert "override" in (total.locator("xpath=..").get_attribute("class") or "")
    assert "T4.total[review] " not in page.locator("#checks ul.failing").inner_text()
    assert "bad" not in (total.locator("xpath=..").get_attribute("class") or "")
    assert "edited" in (total.locator("xpath=..").get_attribute("class") or "")
    assert "review_litigation.review.total 0 → 11" in page.locator("#audit").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-task.png"))
    with page.expect_navigation():
        page.keyboard.press("Alt+S")
    # "then the next task": the other open task is claimed and opened, with what happened to this one
    assert page.url == f"{base}/review/tasks/{task_of(url, 'xss.html')}?msg=task+{task_id}%3A+accepted"
    assert page.locator("#task").get_attribute("data-mine") == "yes"
    assert errors == []
    with session(url) as s:
        task = s.get(ReviewTask, task_id)
        assert task is not None and task.state == "accepted"
        versions = s.scalars(select(ReportVersion).where(ReportVersion.document_id == task.document_id)).all()
        assert [v.origin for v in versions] == ["extractor", "review"]
        cell = Report.model_validate(versions[-1].report).flat_cells()["review_litigation.review.total"]
        assert cell.value == 11
        edits = s.scalars(select(ReviewEvent).where(ReviewEvent.task_id == task_id, ReviewEvent.action == "edit")).all()
        assert [(e.actor, e.cell_key, e.old, e.new) for e in edits] == [
            ("ana", "review_litigation.review.total", "0", "11")
        ]
        assert "agency's slip" in (edits[0].reason or "")
        stored = Report.model_validate(versions[-1].report)
        assert "source_override" in stored.flat_cells()["review_litigation.review.total"].flags
        assert any(c.id == "G.override" for c in stored.checks)  # grounding ran on the stored version
    reader = {"Authorization": f"Bearer {tokens['ana']}"}  # a reviewer may read through the API too
    report = httpx.get(f"{base}/documents/{task.document_id}/report", headers=reader).json()  # the new version
    assert report["review_litigation"]["review"]["total"]["value"] == 11


def test_two_browser_sessions_race_for_one_task(site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, url, tokens = site
    task_id = task_of(url, "hongze-2023.txt")
    from playwright.async_api import async_playwright

    async def race() -> list[str]:
        async with async_playwright() as p:
            pages = []
            for name in ("ana", "bo"):
                ctx = await p.chromium.launch_persistent_context(
                    str(tmp_path / f"profile-{name}"), executable_path=CHROMIUM, args=ARGS, headless=True
                )
                page = await ctx.new_page()
                await page.goto(f"{base}/review/tasks/{task_id}")
                await page.fill("#token", tokens[name])
                await page.click("form.login button[type=submit]")
                await page.wait_for_selector("#claim")
                pages.append(page)
            await asyncio.gather(*(pg.click("#claim") for pg in pages))
            await asyncio.gather(*(pg.wait_for_load_state() for pg in pages))
            return [await pg.locator("#task").get_attribute("data-mine") or "" for pg in pages] + [
                await pg.locator("body").inner_text() for pg in pages
            ]

    mine_a, mine_b, text_a, text_b = asyncio.run(race())
    assert sorted([mine_a, mine_b]) == ["no", "yes"]
    loser_text = text_a if mine_a == "no" else text_b
    winner = "bo" if mine_a == "no" else "ana"
    assert f"is claimed by {winner}" in loser_text
    with session(url) as s:
        task = s.get(ReviewTask, task_id)
        assert task is not None and task.claimed_by == winner
        claims = s.scalars(select(ReviewEvent).where(ReviewEvent.task_id == task_id, ReviewEvent.action == "claim"))
        assert [e.actor for e in claims] == [winner]


def test_script_in_a_report_never_runs(site, browser_session) -> None:  # type: ignore[no-untyped-def]
    base, url, tokens = site
    task_id = task_of(url, "xss.html")
    page = browser_session("ana")
    sign_in(page, base, tokens["ana"], f"/review/tasks/{task_id}")
    response = page.goto(f"{base}/review/tasks/{task_id}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.click("button[data-tab='source-html']")
    shown = page.locator("#source-html")
    assert shown.is_visible() and "主动公开政府信息情况" in shown.inner_text()
    page.wait_for_timeout(300)  # time for an image error or a load handler to have fired, had one survived
    assert page.evaluate("window.__xss") is None
    assert shown.locator("script, iframe, svg, [onerror], [onload], a[href^='javascript']").count() == 0


def test_hongze_confirmed_as_published_and_exported_with_its_anomaly(site, browser_session) -> None:  # type: ignore[no-untyped-def]
    base, url, tokens = site
    task_id = task_of(url, "hongze-2023.txt")
    page = browser_session("bo")
    sign_in(page, base, tokens["bo"], f"/review/tasks/{task_id}")
    page.click("#claim")
    page.click("#confirm")  # without a note: refused, nothing closed
    assert "a note is required" in page.locator(".msg").inner_text()
    page.fill("#note", "table 四 totals are printed 0 in the agency's PDF as well")
    page.uncheck("input[name=then]")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/review\?msg="))
    wide = (
        httpx.get(f"{base}/export.wide.csv", headers={"Authorization": f"Bearer {tokens['ana']}"})
        .content.decode("utf-8-sig")
        .splitlines()
    )
    header = wide[0].split(",")
    row = dict(zip(header, next(r for r in wide[1:] if "hongze-2023" in r).split(","), strict=False))
    assert row["origin"] == "confirmed" and "T4.total[review]" in row["source_anomalies"]
    assert row["review_litigation.review.total"] == "0" and row["state"] == "accepted"
    page.goto(f"{base}/review/accuracy")
    assert "review_litigation.review.total" in page.locator("table.acc").first.inner_text()


def login(c: httpx.Client, token: str, **headers: str) -> httpx.Response:
    """Sign in as a browser does: the form first (its CSRF token and cookie), then the post."""
    found = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert found is not None
    return c.post("/login", data={"token": token, "csrf": found.group(1)}, headers=headers)


def test_roles_sessions_and_csrf(site) -> None:  # type: ignore[no-untyped-def]
    base, url, tokens = site
    task_id = task_of(url, "hongze-2023.txt")
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        assert c.get("/review").status_code == 303  # to the login page
        assert login(c, "gj_wrong").status_code == 401
        assert c.post("/login", data={"token": tokens["ana"]}).status_code == 403  # no login CSRF token
        assert login(c, tokens["ana"], origin="http://evil.example").status_code == 403  # another site's form
        assert login(c, tokens["up"]).status_code == 303
        assert c.get("/review").status_code == 403  # an uploader may not review
    with httpx.Client(base_url=base, follow_redirects=False) as c:
        login(c, tokens["ana"])
        assert c.post(f"/review/tasks/{task_id}/claim").status_code == 403  # no CSRF token
        assert c.post(f"/review/tasks/{task_id}/claim", data={"csrf": "forged"}).status_code == 403
        assert c.post(f"/review/tasks/{task_id}/claim", data={"csrf": "伪造"}).status_code == 403  # not a 500
        page = c.get(f"/review/tasks/{task_id}").text
        csrf = re.search(r'data-csrf="([^"]+)"', page)
        assert csrf is not None
        assert c.post(f"/review/tasks/{task_id}/claim", data={"csrf": csrf.group(1)}).status_code == 303
        r = c.post(
            f"/review/tasks/{task_id}/cells",
            data={"key": "nope", "value": "1"},
            headers={"X-CSRF-Token": csrf.group(1)},
        )
        assert r.status_code == 400 and "no cell" in r.json()["detail"]
    assert os.environ.get("GOUJI_REVIEW_QA_SHARE") is None


def test_a_reviewer_works_through_the_corpus_queue(tmp_path: Path, browser_session) -> None:  # type: ignore[no-untyped-def]
    """Every task built from the shared corpus, closed in the browser with the keyboard and the buttons."""
    url = f"sqlite:///{tmp_path / 'corpus.db'}"
    for f in sorted((SHARED / "reports").iterdir()):
        if f.suffix in (".txt", ".md", ".html"):
            ingest(url, f.name, f.read_bytes())
    with session(url) as s:
        token = create_token(s, "ana", "reviewer")
        opened = s.scalars(select(ReviewTask.id).where(ReviewTask.state == "open")).all()
    assert len(opened) >= 4
    with Server(url) as base:
        page = browser_session("ana")
        sign_in(page, base, token)
        with page.expect_navigation():
            page.keyboard.press("Alt+N")
        closed = 0
        while "/review/tasks/" in page.url:
            page.wait_for_selector("#actions")
            if page.locator("#checks ul.failing li.sev-error").count():
                page.fill("#note", "as published")
                button = "#confirm"
            else:
                button = "#submit"
            with page.expect_navigation():
                page.click(button)
            closed += 1
        assert "the queue is empty" in page.locator("body").inner_text() or "msg=task" in page.url
    assert closed == len(opened)
    with session(url) as s:
        assert s.scalars(select(ReviewTask.state).where(ReviewTask.state.in_(("open", "claimed")))).all() == []
        assert {d.state for d in s.scalars(select(Document))} <= {"accepted", "refused"}


def test_a_pdf_task_shows_the_page_with_the_cells_box(tmp_path: Path, browser_session) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'pdf.db'}"
    ingest(url, "hongze-2023.pdf", (SHARED / "reports" / "hongze-2023.pdf").read_bytes())
    task_id = task_of(url, "hongze-2023.pdf")
    with session(url) as s:
        token = create_token(s, "ana", "reviewer")
    with Server(url) as base:
        page = browser_session("ana")
        sign_in(page, base, token, f"/review/tasks/{task_id}")
        page.click("#claim")
        assert page.locator("#source-page").is_visible() and not page.locator("#source-text").is_visible()
        cell = page.locator("input[data-key='review_litigation.review.upheld']")
        cell.focus()
        page.wait_for_function(
            "document.getElementById('page-img').complete && document.getElementById('page-img').naturalWidth > 0"
        )
        assert cell.get_attribute("data-page") is not None
        img = page.locator("#page-img").bounding_box()
        box = page.locator("#box").bounding_box()
        assert img is not None and box is not None and page.locator("#box").is_visible()
        inside = img["x"] <= box["x"] and box["x"] + box["width"] <= img["x"] + img["width"]
        assert inside and img["y"] <= box["y"] <= img["y"] + img["height"] and 0 < box["width"] < img["width"] / 5
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-task-pdf.png"))
        png = httpx.get(f"{base}/review/tasks/{task_id}/pages/1.png")
        assert png.status_code in (303, 401)  # page pictures need a signed-in reviewer too


def test_a_form_on_another_site_cannot_sign_the_browser_in(site, browser_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: a page elsewhere auto-submits the attacker's token to /login; the browser must not end
    up signed in as the attacker's reviewer (the form's Origin is not this site, and it lacks the token)."""
    import functools
    import http.server
    import threading

    base, _, tokens = site
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "index.html").write_text(
        f'<form id="f" method="post" action="{base}/login"><input name="token" value="{tokens["bo"]}">'
        '<input name="csrf" value="guess"></form><script>document.getElementById("f").submit()</script>',
        encoding="utf-8",
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(evil))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser_session("victim")
        page.goto(base + "/login")  # the victim has visited the site before: its sign-in cookie exists
        with page.expect_navigation(url=re.compile(re.escape(base) + "/login")):
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        assert "this site's own sign-in page" in page.locator("body").inner_text()
        page.goto(base + "/review")
        assert "/login" in page.url  # not signed in as anyone
    finally:
        server.shutdown()
