"""One Settings object: every GOUJI_* variable, its default, clear errors, and the README's table."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from gouji.worker.errors import ConfigError
from gouji.worker.settings import Settings, markdown_table, variable
from tests.conftest import ROOT


def test_defaults_need_no_environment() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.database_url, s.broker_url, s.review_qa_share, s.llm_config(wanted=False)) == (
        "sqlite:///gouji.db",
        None,
        0.05,
        None,
    )


def test_values_come_from_the_mapping_and_options_override_them() -> None:
    env = {"GOUJI_DATABASE_URL": "sqlite:///a.db", "GOUJI_REVIEW_QA_SHARE": "0.5", "GOUJI_OCR_THREADS": "2"}
    s = Settings.from_env(env, database_url="sqlite:///b.db", broker_url=None)
    assert (s.database_url, s.review_qa_share, s.read_options().ocr_threads) == ("sqlite:///b.db", 0.5, 2)
    assert Settings.from_env({"GOUJI_BROKER_URL": ""}).broker_url is None  # empty means unset


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GOUJI_REVIEW_QA_SHARE": "5"}, "GOUJI_REVIEW_QA_SHARE"),
        ({"GOUJI_OCR_THREADS": "many"}, "GOUJI_OCR_THREADS"),
        ({"GOUJI_LLM_PRICES": "[1, 2]"}, "GOUJI_LLM_PRICES"),
        ({"GOUJI_LLM_MODE": "grammar"}, "GOUJI_LLM_MODE"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_the_api_key_is_never_shown() -> None:
    s = Settings.from_env({"GOUJI_LLM_BASE_URL": "http://x/v1", "GOUJI_LLM_MODEL": "m", "GOUJI_LLM_API_KEY": "sk-9"})
    assert "sk-9" not in repr(s) and "sk-9" not in str(dict(s))
    cfg = s.llm_config()
    assert cfg is not None and cfg.api_key == "sk-9" and "sk-9" not in str(cfg.public())
    r = subprocess.run(
        [sys.executable, "-m", "gouji.api.cli", "settings"],
        env={"GOUJI_LLM_API_KEY": "sk-9", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0 and "GOUJI_LLM_API_KEY=**********" in r.stdout and "sk-9" not in r.stdout


def test_the_readme_lists_every_setting_as_defined() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block is not None, "README.md lacks the settings block"
    assert block.group(1) == markdown_table(), "regenerate it: python -m gouji.worker.settings"
    for name in Settings.model_fields:
        assert f"`{variable(name)}`" in block.group(1)
