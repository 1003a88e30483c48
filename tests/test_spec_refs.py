"""Every reference to the specification in code, prompts and docs resolves in docs/spec.md.

Code cites sections ("docs/spec.md §5.6", or a bare "§5.6"), deviation codes ("D22") and identity ids
("T3.balance"). A section must have a heading that starts with its number, a deviation a catalogue entry
"#### Dnn — …" (§6), and an identity id the code declares a backticked entry in the spec's tables. Links to
files under docs/ must exist, and nothing may point at the spec's old home outside the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
SCANNED_DIRS = ("schemas", "worker", "api", "prompts", "bench", "tests")
SCANNED_FILES = ("README.md", "docs/cell-keys.md")
SUFFIXES = frozenset({".py", ".j2", ".md", ".html"})

SECTION_REF = re.compile(r"§\s*(\d+(?:\.\d+)?)")
DEVIATION_REF = re.compile(r"\bD(\d{2})\b")
DOCS_LINK = re.compile(r"\bdocs/[\w.-]+\.md\b")
OLD_HOME = re.compile(r"TEMPLATE_SPEC|CELL_KEYS|shared/spec")
# String literals that are identity ids: T2.int, T2_2019.items_nonneg, X.T3.carry, N.received, G.grounded …
IDENTITY_ID = re.compile(r"""["']((?:T[234](?:_20(?:19|21))?|X|N|G)\.[A-Za-z0-9_.]+)["']""")
IDENTITY_SOURCES = ("schemas", "worker/check", "worker/extract")

HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)?)[.\s]", re.MULTILINE)
DEVIATION_ENTRY = re.compile(r"^####\s+(D\d{2})\b", re.MULTILINE)

Refs = dict[str, list[str]]  # reference → "file:line" where it occurs


def scanned_files() -> list[Path]:
    me = Path(__file__).resolve()
    files = [ROOT / f for f in SCANNED_FILES]
    for d in SCANNED_DIRS:
        files += [p for p in (ROOT / d).rglob("*") if p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return sorted(p for p in files if p.is_file() and p.resolve() != me)


def find_refs(pattern: re.Pattern[str], files: Iterable[Path], fmt: str = "{}") -> Refs:
    refs: Refs = {}
    for path in files:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in pattern.finditer(line):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                refs.setdefault(fmt.format(m.group(m.lastindex or 0)), []).append(f"{where}:{no}")
    return refs


def spec_sections(text: str) -> set[str]:
    return set(HEADING.findall(text))


def spec_deviations(text: str) -> set[str]:
    return set(DEVIATION_ENTRY.findall(text))


def unresolved(refs: Refs, known: set[str]) -> list[str]:
    return [f"{ref} ({', '.join(where[:3])})" for ref, where in sorted(refs.items()) if ref not in known]


def test_every_section_citation_has_a_heading() -> None:
    refs = find_refs(SECTION_REF, scanned_files())
    assert {"0", "1.1", "5", "5.6", "7", "7.1"} <= set(refs), "the scanner no longer sees the code's citations"
    missing = unresolved(refs, spec_sections(SPEC.read_text(encoding="utf-8")))
    assert not missing, "sections cited but not headed in docs/spec.md: " + "; ".join(missing)


def test_every_deviation_code_has_an_entry() -> None:
    refs = find_refs(DEVIATION_REF, scanned_files(), "D{}")
    assert {"D09", "D11", "D12", "D22"} <= set(refs), "the scanner no longer sees the code's deviation codes"
    missing = unresolved(refs, spec_deviations(SPEC.read_text(encoding="utf-8")))
    assert not missing, "deviation codes cited but not catalogued in docs/spec.md §6: " + "; ".join(missing)


def test_the_catalogue_is_complete() -> None:
    assert spec_deviations(SPEC.read_text(encoding="utf-8")) == {f"D{i:02d}" for i in range(1, 38)}


def test_every_identity_id_is_specified() -> None:
    files = [p for d in IDENTITY_SOURCES for p in (ROOT / d).rglob("*.py")]
    ids = find_refs(IDENTITY_ID, files)
    assert {"T3.balance", "X.T3.carry", "N.received", "G.grounded"} <= set(ids)
    text = SPEC.read_text(encoding="utf-8")
    missing = [f"{i} ({where[0]})" for i, where in sorted(ids.items()) if f"`{i}`" not in text and f"`{i}[" not in text]
    assert not missing, "identity ids the code uses but docs/spec.md does not define: " + "; ".join(missing)


def test_links_to_docs_exist_and_nothing_points_outside() -> None:
    files = scanned_files()
    links = find_refs(DOCS_LINK, files)
    assert "docs/spec.md" in links
    broken = [f"{link} ({where[0]})" for link, where in sorted(links.items()) if not (ROOT / link).is_file()]
    assert not broken, "links to missing files: " + "; ".join(broken)
    old = find_refs(OLD_HOME, [*files, SPEC])
    assert not old, f"references to the spec outside the repository: {old}"


def test_the_resolver_reports_what_is_missing(tmp_path: Path) -> None:
    """The checks above can fail: a citation without a heading or entry is reported, with its place."""
    code = tmp_path / "m.py"
    code.write_text('"""See docs/spec.md §5.6 and §9.9; deviations D09 and D99."""\n', encoding="utf-8")
    spec = "## 5. Identities\n### 5.6 Narrative-vs-table checks (N.*)\n#### D09 — one row\n"
    sections = find_refs(SECTION_REF, [code])
    assert set(sections) == {"5.6", "9.9"}
    assert [r.split(" ")[0] for r in unresolved(sections, spec_sections(spec))] == ["9.9"]
    deviations = find_refs(DEVIATION_REF, [code], "D{}")
    assert [r.split(" ")[0] for r in unresolved(deviations, spec_deviations(spec))] == ["D99"]
