"""The generator's renderings and scan kinds, as names only: the command line offers them as choices
without loading the renderers (numpy, Pillow, reportlab)."""

from __future__ import annotations

from typing import Literal

Style = Literal["lines", "flat", "markdown", "html", "pdf", "docx", "scan"]
STYLES: tuple[Style, ...] = ("lines", "flat", "markdown", "html")  # text renderings (fast; the default)
BINARY_STYLES: tuple[Style, ...] = ("pdf", "docx", "scan")
ALL_STYLES: tuple[Style, ...] = STYLES + BINARY_STYLES

ScanKind = Literal["scan300", "scan200", "degraded", "photo"]
SCAN_KINDS: tuple[ScanKind, ...] = ("scan300", "scan200", "degraded", "photo")
