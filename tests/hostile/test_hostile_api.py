"""The API under hostile input on PostgreSQL (where SQLite would forgive): no 500s, every file of an upload
stored or named with its problem, one batch per name under concurrency, and downloads that cannot break."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import func, select

from gouji.worker.service.tokens import create_token
from gouji.worker.store.db import session
from gouji.worker.store.models import Batch, Document
from gouji.worker.synth.generate import synthesize
from tests.conftest import ROOT, postgres_database
from tests.test_api import Server, auth, upload

SEED = (ROOT / "examples" / "reports" / "cq-scjgj-2020.txt").read_bytes()


@pytest.fixture
def pg_api() -> Iterator[tuple[httpx.Client, dict[str, str], str]]:
    for url in postgres_database():
        with session(url) as s:
            tokens = {r: create_token(s, r, r) for r in ("viewer", "uploader", "reviewer")}
        with Server(url) as base, httpx.Client(base_url=base, timeout=120) as client:
            yield client, tokens, url


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _patch_entry(
    archive: bytes, name: str, *, flag: int | None = None, method: int | None = None, crc: bool = False
) -> bytes:
    """The archive with one entry's headers altered: the encryption flag, the compression method, or a
    wrong CRC — what a damaged or foreign zip holds."""
    data = bytearray(archive)
    raw = name.encode()
    for sig, name_at, flag_at, method_at, crc_at in ((b"PK\x03\x04", 30, 6, 8, 14), (b"PK\x01\x02", 46, 8, 10, 16)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at : at + name_at + len(raw)] == raw:
                if flag is not None:
                    struct.pack_into("<H", data, at + flag_at, struct.unpack_from("<H", data, at + flag_at)[0] | flag)
                if method is not None:
                    struct.pack_into("<H", data, at + method_at, method)
                if crc:
                    struct.pack_into("<I", data, at + crc_at, struct.unpack_from("<I", data, at + crc_at)[0] ^ 0xFFFF)
            at = data.find(sig, at + 4)
    return bytes(data)


def test_bad_zip_entries_are_named_and_the_rest_is_stored(pg_api: tuple[httpx.Client, dict[str, str], str]) -> None:
    client, tokens, _ = pg_api
    noise = bytes(range(256)) * 20  # incompressible enough to stay under the zip-bomb ratio
    archive = _zip({"good.txt": SEED, "crc.txt": noise, "locked.txt": noise, "d64.txt": noise})
    archive = _patch_entry(archive, "crc.txt", crc=True)
    archive = _patch_entry(archive, "locked.txt", flag=0x1)
    archive = _patch_entry(archive, "d64.txt", method=9)  # deflate64: zipfile cannot unpack it
    r = upload(client, tokens["uploader"], ("mixed.zip", archive))
    assert r.status_code == 200, r.text
    problems = {x["file"]: x["problem"] for x in r.json()["rejected"]}
    assert "CRC" in problems["mixed.zip/crc.txt"]
    assert "encrypted" in problems["mixed.zip/locked.txt"]
    assert "compression" in problems["mixed.zip/d64.txt"]
    assert [d["file_name"] for d in r.json()["accepted"]] == ["mixed.zip/good.txt"]


def test_a_word_file_is_a_document_not_an_archive(pg_api: tuple[httpx.Client, dict[str, str], str]) -> None:
    client, tokens, _ = pg_api
    docx = synthesize(3, "docx", version="2021")
    r = upload(client, tokens["uploader"], (docx.name + docx.suffix, docx.content))
    assert r.status_code == 200 and r.json()["rejected"] == []
    assert [(d["file_name"], d["template_version"]) for d in r.json()["accepted"]] == [
        (docx.name + docx.suffix, "2021")
    ]


def test_names_that_do_not_fit_are_client_errors(pg_api: tuple[httpx.Client, dict[str, str], str]) -> None:
    client, tokens, _ = pg_api
    assert upload(client, tokens["uploader"], ("a.txt", SEED), batch="b" * 201).status_code == 422
    assert upload(client, tokens["uploader"], ("a.txt", SEED), batch="bad%00name").status_code == 400
    long = upload(client, tokens["uploader"], ("n" * 501 + ".txt", SEED))
    assert long.status_code == 200 and "longer than 500" in long.json()["rejected"][0]["problem"]
    viewer = auth(tokens["viewer"])
    assert client.get("/documents", params={"agency": "a\x00b"}, headers=viewer).status_code == 400
    assert client.get(f"/documents/{2**70}", headers=viewer).status_code == 422
    assert client.get("/batches/" + "x" * 5000, headers=viewer).status_code == 422


def test_concurrent_first_uploads_to_one_new_batch(pg_api: tuple[httpx.Client, dict[str, str], str]) -> None:
    client, tokens, url = pg_api

    def one(i: int) -> int:
        with httpx.Client(base_url=str(client.base_url), timeout=120) as c:
            return upload(c, tokens["uploader"], (f"r{i}.txt", SEED + f"\n{i}".encode()), batch="新批次").status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(one, range(20)))
    assert codes == [200] * 20
    with session(url) as s:
        assert s.scalar(select(func.count()).select_from(Batch).where(Batch.name == "新批次")) == 1
        assert s.scalar(select(func.count()).select_from(Document)) == 20


def test_downloads_of_any_batch_name_and_formula_file_names(pg_api: tuple[httpx.Client, dict[str, str], str]) -> None:
    client, tokens, _ = pg_api
    name = '=HYPERLINK("http://evil.example","x").txt'
    r = upload(client, tokens["uploader"], (name, SEED), batch="重庆%0D%0A")  # CR LF: would split a header
    assert r.status_code in (400, 422) and "control character" in r.json()["detail"]
    assert upload(client, tokens["uploader"], (name, SEED), batch='重庆 "报告"').status_code == 200
    r = client.get("/export.csv", params={"batch": '重庆 "报告"'}, headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    disposition = r.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == 'gouji-重庆 "报告".csv'
    body = r.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body  # text that a spreadsheet would run is neutralised
    from openpyxl import load_workbook

    xlsx = client.get("/export.xlsx", headers=auth(tokens["viewer"])).content
    ws = load_workbook(io.BytesIO(xlsx)).active
    assert ws is not None
    names = [c.value for c in ws["B"]]
    assert any(str(n).startswith("'=HYPERLINK") for n in names)  # (the client sends the quotes as %22)
    assert all(c.data_type != "f" for c in ws["B"])  # no cell is a formula


def test_review_urls_with_huge_ids_are_client_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ids.db'}"
    with session(url) as s:
        token = create_token(s, "ana", "reviewer")
    with Server(url) as base, httpx.Client(base_url=base, follow_redirects=False) as c:
        import re

        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert csrf is not None
        c.post("/login", data={"token": token, "csrf": csrf.group(1)})
        assert c.get(f"/review/tasks/{2**70}").status_code == 422
        page = c.get("/review").text
        session_csrf = re.search(r'data-csrf="([^"]+)"', page)
        assert session_csrf is not None
        r = c.post("/review/next", data={"csrf": session_csrf.group(1), "after": str(2**70)})
        assert r.status_code == 422
