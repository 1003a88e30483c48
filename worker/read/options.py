"""What a caller may set about reading: built from the settings (`Settings.read_options()`) at an entry
point and handed to `read_bytes`, so no reader looks at the environment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadOptions:
    ocr_threads: int = 1  # threads of the process's OCR engine (fixed when the engine is first built)
    soffice_timeout_s: float = 120.0  # LibreOffice's time to convert one legacy Word file


DEFAULT_OPTIONS = ReadOptions()
