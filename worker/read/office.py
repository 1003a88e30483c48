"""Legacy Word (.doc), WPS (.wps) and RTF → DOCX through LibreOffice headless, then docx.py.

No Python library reads the binary Word format faithfully (tables especially); LibreOffice does. It is
an optional system dependency: without it these files fail with an error saying what to install.
Each conversion gets its own throw-away LibreOffice profile, because concurrent conversions sharing
the default profile block on its lock (workers convert in parallel).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from gouji.worker.errors import InputError
from gouji.worker.read.document import NormalisedDoc
from gouji.worker.read.docx import read_docx
from gouji.worker.read.options import DEFAULT_OPTIONS, ReadOptions

INSTALL_HINT = "install libreoffice-writer (apt-get install libreoffice-writer) to read .doc/.wps files"


def soffice() -> str | None:
    """The LibreOffice executable on PATH, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_to_docx(data: bytes, path: str, timeout_s: float) -> bytes:
    exe = soffice()
    if exe is None:
        raise InputError(path, f"LibreOffice is not installed; {INSTALL_HINT}")
    suffix = Path(path).suffix.lower() or ".doc"
    with tempfile.TemporaryDirectory(prefix="gouji-office-") as tmp:
        src = Path(tmp) / f"input{suffix}"
        src.write_bytes(data)
        profile = Path(tmp, "profile").as_uri()
        cmd = [exe, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "docx", "--outdir", tmp, str(src)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise InputError(path, f"LibreOffice did not convert the file within {timeout_s:.0f} s") from None
        out = Path(tmp) / "input.docx"
        if done.returncode != 0 or not out.exists():
            detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-300:]
            raise InputError(path, f"LibreOffice could not convert the file (damaged or not a document): {detail}")
        return out.read_bytes()


def read_legacy_word(data: bytes, path: str, options: ReadOptions = DEFAULT_OPTIONS) -> NormalisedDoc:
    doc = read_docx(convert_to_docx(data, path, options.soffice_timeout_s), path, options)
    doc.sha256 = hashlib.sha256(data).hexdigest()  # the identity of the file we were given, not the conversion
    doc.media_type = "application/msword"
    return doc
