"""The layout's rules hold: the import contracts in pyproject.toml, gouji's one import name, the error
tree, and a command line that starts without the heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

FOLDERS = ("schemas", "prompts", "worker", "api", "tests", "bench")
BARE = {"schemas", "prompts", "worker", "api"}  # the folders' names, importable only as gouji.<name>


def _contracts(tmp: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
    """lint-imports on pyproject's contracts (plus `extra` ones), in a fresh process."""
    config = tmp / "contracts.toml"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config.write_text(text[text.index("[tool.importlinter]") : text.index("[tool.ruff]")] + extra, encoding="utf-8")
    code = (
        f"import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports({str(config)!r}, no_cache=True))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_import_contracts_hold(tmp_path: Path) -> None:
    r = _contracts(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert r.stdout.count(" KEPT") == 4


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The contracts see imports inside functions too (the command line imports lazily)."""
    probe = """
[[tool.importlinter.contracts]]
name = "probe"
type = "forbidden"
source_modules = ["gouji.api.cli"]
forbidden_modules = ["gouji.worker.store"]
"""
    r = _contracts(tmp_path, probe)
    assert r.returncode == 1 and "probe BROKEN" in r.stdout


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_everything_imports_gouji_by_its_one_name() -> None:
    """`import worker…` would work from a checkout (the folder is on the path) and fail when installed."""
    bare = [
        f"{p.relative_to(ROOT)}:{line}: {module}"
        for folder in FOLDERS
        for p in sorted((ROOT / folder).rglob("*.py"))
        for line, module in _imports(p)
        if module.split(".")[0] in BARE
    ]
    assert bare == []


def test_every_raised_error_is_in_the_tree() -> None:
    """gouji's code raises its own errors from worker/errors.py (or a builtin for a caller's bug); no
    module defines another exception root."""
    roots = [
        f"{p.relative_to(ROOT)}: class {node.name}"
        for folder in ("schemas", "worker", "api", "prompts")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p.name != "errors.py" or p.parent.name != "worker"
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id in ("Exception", "BaseException") for b in node.bases)
    ]
    assert roots == []


@pytest.mark.parametrize("argv", [["--help"], ["ingest", "--help"], ["export", "--help"]])
def test_the_command_line_starts_light(argv: list[str]) -> None:
    """`gouji --help` loads neither the database, the broker, the LLM client nor the PDF/OCR stacks."""
    heavy = ("sqlalchemy", "celery", "openai", "fastapi", "reportlab", "pdfplumber", "rapidocr", "numpy", "pydantic")
    code = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from gouji.api.cli import main
        result = CliRunner().invoke(main, {argv!r})
        assert result.exit_code == 0, result.output
        print(",".join(m for m in {heavy!r} if m in sys.modules))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_only_the_settings_read_the_environment() -> None:
    """Settings are built once per entry point and passed down; no stage reads GOUJI_* on its own.
    (`gouji serve --workers N` writes the database URL for its server processes, which read it back
    through Settings.)"""
    readers = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in ("schemas", "worker", "api", "prompts")
        for p in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if ("os.environ" in line or "getenv" in line) and "os.environ[" not in line
    ]
    assert readers == ["worker/settings.py:" + str(_line_of(ROOT / "worker" / "settings.py", "os.environ"))]


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_the_api_alone_chooses_http_statuses() -> None:
    from gouji.api.errors import status_of
    from gouji.worker.errors import ConfigError, Conflict, InputError, Invalid, LLMError, NotFound

    assert [status_of(e) for e in (NotFound("x"), Conflict("x"), Invalid("x"), InputError("f", "x"))] == [
        404,
        409,
        400,
        422,
    ]
    assert (status_of(ConfigError("x")), status_of(LLMError("timeout", "x"))) == (400, 502)
    web = [
        f"{p.relative_to(ROOT)}: {module}"
        for p in sorted((ROOT / "worker").rglob("*.py"))
        for _, module in _imports(p)
        if module.split(".")[0] in ("fastapi", "starlette")
    ]
    assert web == []  # the service raises errors by kind; it knows nothing of HTTP
