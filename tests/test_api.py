"""The HTTP API on a real uvicorn server on 127.0.0.1, talked to over HTTP."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from gouji.api.app import create_app
from gouji.api.token_cache import TokenCache
from gouji.api.uploads import MAX_FILE_BYTES
from gouji.worker.service.tokens import create_token
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from tests.conftest import ROOT

SEED = ROOT / "examples" / "reports" / "cq-scjgj-2020.txt"


class Server:
    def __init__(self, db_url: str, settings: Settings | None = None, token_ttl_s: float | None = None) -> None:
        app = create_app((settings or Settings()).model_copy(update={"database_url": db_url}))
        if token_ttl_s is not None:
            app.state.tokens = TokenCache(db_url, ttl_s=token_ttl_s)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with session(url) as s:
        tokens = {role: create_token(s, role, role) for role in ("viewer", "uploader", "reviewer", "admin")}
    with Server(url) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(client: httpx.Client, token: str | None, *files: tuple[str, bytes], batch: str = "b") -> httpx.Response:
    headers = auth(token) if token else {}
    return client.post(f"/batches/{batch}/documents", files=[("files", f) for f in files], headers=headers)


def test_writes_need_a_token_with_the_right_role(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, tokens = api
    seed = ("seed.txt", SEED.read_bytes())
    assert upload(client, None, seed).status_code == 401
    assert upload(client, "gj_not-a-token", seed).status_code == 401
    assert upload(client, tokens["reviewer"], seed).status_code == 403
    assert upload(client, tokens["uploader"], seed).status_code == 200
    assert client.post("/documents/1/rerun").status_code == 401
    assert client.post("/documents/1/rerun", headers=auth(tokens["reviewer"])).status_code == 403
    assert client.post("/documents/1/rerun", headers=auth(tokens["admin"])).status_code == 200


def test_upload_read_and_export(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, tokens = api
    reader = httpx.Client(base_url=client.base_url, headers=auth(tokens["viewer"]), timeout=60)
    r = upload(
        client,
        tokens["uploader"],
        ("seed.txt", SEED.read_bytes()),
        ("synth.md", (ROOT / "examples" / "reports" / "synth-2021-markdown-7.md").read_bytes()),
    )
    assert r.status_code == 200, r.text
    docs = r.json()["accepted"]
    assert [d["state"] for d in docs] == ["accepted", "accepted"]
    assert reader.get("/batches/b").json() == {"name": "b", "documents": 2, "states": {"accepted": 2}}
    seed_id = docs[0]["id"]
    report = reader.get(f"/documents/{seed_id}/report").json()
    assert report["applications"]["rows"]["new_received"]["cells"]["total"]["value"] == 165
    cells = reader.get(f"/documents/{seed_id}/cells").json()["cells"]
    assert cells["active_disclosure.art20_9.centralized_procurement.procurement_amount"]["value"] == "36521.44"
    checks = reader.get(f"/documents/{seed_id}/checks").json()
    assert {"id": "N.received", "status": "fail", "lhs": "77", "rhs": "165"}.items() <= next(
        c for c in checks if c["id"] == "N.received"
    ).items()
    assert reader.get("/documents/999/report").status_code == 404
    plain = reader.get(f"/documents/{seed_id}/report", headers={"Accept-Encoding": "identity"})
    zipped = reader.get(f"/documents/{seed_id}/report", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() == report and int(zipped.headers["content-length"]) < len(plain.content) / 4
    etag = plain.headers["etag"]
    assert reader.get(f"/documents/{seed_id}/report", headers={"If-None-Match": etag}).status_code == 304
    assert reader.get(f"/documents/{seed_id}/report", params={"version": 9}).status_code == 404
    long_csv = reader.get("/export.csv").content.decode("utf-8-sig").splitlines()
    assert long_csv[0].startswith("document_id,file_name,agency") and len(long_csv) == 1 + 198 + 200
    wide = reader.get("/export.wide.csv", params={"batch": "b"}).content.decode("utf-8-sig").splitlines()
    assert len(wide) == 3
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(reader.get("/export.xlsx").content)).active
    assert ws is not None and ws.max_row == 3
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(reader.get("/export.parquet").content))
    assert table.num_rows == 398 and "key" in table.column_names
    lines = reader.get("/export.jsonl").text.splitlines()
    assert [json.loads(x)["template_version"] for x in lines] == ["2019", "2021"]
    assert reader.get("/export.exe").status_code == 404
    metrics = reader.get("/metrics").text
    assert 'gouji_documents{state="accepted"} 2.0' in metrics and "gouji_review_backlog 0.0" in metrics
    assert 'gouji_stage_seconds_count{stage="extract"} 2.0' in metrics and 'stage="store"' in metrics
    assert client.get("/healthz").json() == {"status": "ok"}  # health and the API's description are open
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/batches/{name}/documents", "/documents/{doc_id}/report", "/export.{fmt}", "/metrics"} <= set(paths)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zips_and_bad_inputs(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, tokens = api
    good = _zip({"a/seed.txt": SEED.read_bytes(), "empty.txt": b""})
    traversal = _zip({"../../etc/passwd": b"x"})
    bomb = _zip({"bomb.txt": b"0" * (20 * 2**20)})
    r = upload(
        client,
        tokens["uploader"],
        ("good.zip", good),
        ("evil.zip", traversal),
        ("bomb.zip", bomb),
        ("junk.txt", bytes(range(256)) * 50),
        ("big.txt", b"1" * (MAX_FILE_BYTES + 1)),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    problems = {x["file"]: x["problem"] for x in body["rejected"]}
    assert "outside the archive" in problems["evil.zip"] and "zip bomb" in problems["bomb.zip"]
    assert "larger than" in problems["big.txt"]
    states = {d["file_name"]: d["state"] for d in body["accepted"]}
    assert states == {"good.zip/a/seed.txt": "accepted", "good.zip/empty.txt": "failed", "junk.txt": "failed"}
    failed = client.get("/documents", params={"state": "failed"}, headers=auth(tokens["viewer"])).json()
    assert {d["file_name"] for d in failed} == {"good.zip/empty.txt", "junk.txt"}
    assert all(d["error"] for d in failed)


def test_reads_are_private_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'private.db'}"
    with session(url) as s:
        viewer = create_token(s, "analyst", "viewer")
        uploader = create_token(s, "loader", "uploader")
        expired = create_token(s, "old", "viewer", expires_in=timedelta(seconds=-1))
    reads = ["/documents", "/documents/1/report", "/documents/1/cells", "/export.csv", "/metrics", "/status"]
    with Server(url, token_ttl_s=0) as base, httpx.Client(base_url=base, timeout=60) as c:
        assert upload(c, uploader, ("seed.txt", SEED.read_bytes())).status_code == 200
        for path in reads:
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=auth(expired)).status_code == 401, path
            assert c.get(path, headers=auth(viewer)).status_code == 200, path
        assert upload(c, viewer, ("x.txt", b"x")).status_code == 403  # a viewer only reads
        assert c.get("/healthz").status_code == 200
        r = subprocess.run(
            [sys.executable, "-m", "gouji.api.cli", "token", "revoke", "analyst", "--db", url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert c.get("/documents", headers=auth(viewer)).status_code == 401  # revoked: at once, with no cache
        listed = subprocess.run(
            [sys.executable, "-m", "gouji.api.cli", "token", "list", "--db", url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        ).stdout
        assert "analyst" in listed and "revoked" in listed and "loader" in listed
        assert re.search(r"loader\s+uploader\s+\S+ \S+\s+\d{4}-\d\d-\d\d", listed), listed  # its last use is shown
        assert re.search(r"old .* expired$", listed, re.M), listed
    with Server(url, Settings(public_read=True)) as base, httpx.Client(base_url=base, timeout=60) as c:
        assert c.get("/documents/1/report").status_code == 200  # published read-only
        assert upload(c, None, ("x.txt", b"x")).status_code == 401  # writes still need a token
