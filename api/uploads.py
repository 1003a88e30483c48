"""Uploaded files, and the files inside uploaded zips, with every bound enforced before anything is
stored; a refused file is named with its problem, never fatal to the rest of the upload."""

from __future__ import annotations

import io
import zipfile

from fastapi import UploadFile

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILES = 1000
MAX_UNZIPPED_BYTES = 500 * 1024 * 1024
MAX_RATIO = 200  # compressed → uncompressed: a higher ratio is a zip bomb, not a report


def unpack(files: list[UploadFile]) -> tuple[list[tuple[str, bytes]], list[dict[str, str]]]:
    """(file name, bytes) of every acceptable file, and {file, problem} for each refused one."""
    out: list[tuple[str, bytes]] = []
    rejected: list[dict[str, str]] = []
    for f in files:
        name = f.filename or "upload"
        data = f.file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            rejected.append({"file": name, "problem": f"larger than {MAX_FILE_BYTES // 2**20} MiB"})
            continue
        if not (name.lower().endswith(".zip") or (data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)))):
            out.append((name, data))
            continue
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as e:
            rejected.append({"file": name, "problem": f"not a readable zip: {e}"})
            continue
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
            rejected.append({"file": name, "problem": problem})
            continue
        for i in infos:
            out.append((f"{name}/{i.filename}", zf.read(i)))
    return out, rejected
