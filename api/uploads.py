"""Uploaded files, and the files inside uploaded zips, with every bound checked before anything is read
into memory; a refused file or zip entry is named with its problem, never fatal to the rest of the upload.

Files come out one at a time (a generator), so an upload's memory is one file, not the whole archive. A
Word, Excel or OpenDocument file is a zip too, but it is a document: it is told apart by what it holds
([Content_Types].xml, an ODF mimetype), not by the zip magic alone.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import UploadFile

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES = 1000
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024
MAX_RATIO = 200  # compressed → uncompressed: a higher ratio is a zip bomb, not a report
MAX_NAME = 500  # characters of a stored file name (the database column)


@dataclass(frozen=True)
class Accepted:
    name: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    name: str
    problem: str


def name_problem(name: str) -> str | None:
    """Why `name` cannot be stored as a file or batch name, or None."""
    if not name:
        return "has no name"
    if len(name) > MAX_NAME:
        return f"name longer than {MAX_NAME} characters"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "name contains control characters"
    return None


def _is_office_document(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    if "[Content_Types].xml" in names:  # Office Open XML: .docx, .xlsx, .pptx
        return True
    if "mimetype" in names:  # OpenDocument: .odt, .ods
        try:
            return zf.read("mimetype", pwd=None)[:64].startswith(b"application/vnd.oasis.opendocument")
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError):
            return False
    return False


def unpack(files: list[UploadFile]) -> Iterator[Accepted | Refused]:
    """Every uploaded file, or the files inside each uploaded archive, as they are read."""
    for f in files:
        name = f.filename or "upload"
        data = f.file.read(MAX_FILE_BYTES + 1)
        problem = name_problem(name)
        if problem is None and len(data) > MAX_FILE_BYTES:
            problem = f"larger than {MAX_FILE_BYTES // 2**20} MiB"
        if problem is not None:
            yield Refused(name[:MAX_NAME], problem)
            continue
        if not (name.lower().endswith(".zip") or (data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)))):
            yield Accepted(name, data)
            continue
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as e:
            yield Refused(name, f"not a readable zip: {e}")
            continue
        if _is_office_document(zf):
            yield Accepted(name, data)
            continue
        yield from _entries(name, zf)


def _entries(name: str, zf: zipfile.ZipFile) -> Iterator[Accepted | Refused]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    total = sum(i.file_size for i in infos)
    problem = None
    if len(infos) > MAX_FILES:
        problem = f"more than {MAX_FILES} files"
    elif total > MAX_UNZIPPED_BYTES or any(
        i.compress_size and i.file_size / i.compress_size > MAX_RATIO for i in infos
    ):
        problem = "unpacks to too much data for its size (zip bomb)"
    elif any(i.filename.startswith(("/", "\\")) or ".." in i.filename.replace("\\", "/").split("/") for i in infos):
        problem = "contains paths outside the archive (../ or absolute)"
    if problem:
        yield Refused(name, problem)
        return
    for i in infos:
        entry = f"{name}/{i.filename}"
        problem = name_problem(entry)
        if problem is None and i.file_size > MAX_FILE_BYTES:
            problem = f"larger than {MAX_FILE_BYTES // 2**20} MiB unpacked"
        if problem is not None:
            yield Refused(entry[:MAX_NAME], problem)
            continue
        try:
            with zf.open(i) as member:
                data = member.read(MAX_FILE_BYTES + 1)  # the header's size may lie: never read past the bound
        except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as e:
            yield Refused(entry, f"cannot be unpacked ({_why(e)})")
            continue
        if len(data) > MAX_FILE_BYTES:
            yield Refused(entry, f"larger than {MAX_FILE_BYTES // 2**20} MiB unpacked")
            continue
        yield Accepted(entry, data)


def _why(e: BaseException) -> str:
    text = str(e)
    if "encrypted" in text or "password" in text:
        return "encrypted"
    if "CRC" in text:
        return "damaged: CRC check failed"
    if isinstance(e, NotImplementedError):
        return f"unsupported compression: {text}"
    return f"{type(e).__name__}: {text}"
