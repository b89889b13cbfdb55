"""A misspelt ASSAY_* variable or config file key is named at start, with the setting
it probably meant, instead of silently leaving that setting at its default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assay.config import (
    OTHER_PREFIXES,
    OTHER_VARIABLES,
    Settings,
    setting_names,
    unknown_settings,
)

ROOT = Path(__file__).resolve().parents[2]
ASSAY = Path(sys.executable).with_name("assay")
READ_FROM_ENVIRONMENT = re.compile(r"environ(?:\.get)?[(\[]\s*\"(ASSAY_[A-Z0-9_]+)\"")


def messages(environ: dict[str, str]) -> list[str]:
    return [u.message() for u in unknown_settings(environ)]


def test_a_misspelt_variable_is_named_with_the_setting_it_meant() -> None:
    found = unknown_settings({"ASSAY_WORKR_SLOTS": "4", "HOME": "/root", "PATH": "/bin"})
    assert [(u.name, u.source, u.suggestion) for u in found] == [
        ("ASSAY_WORKR_SLOTS", "the environment", "ASSAY_WORKER_SLOTS")
    ]
    assert found[0].message() == (
        "ASSAY_WORKR_SLOTS (in the environment) is not an Assay setting and is ignored; "
        "did you mean ASSAY_WORKER_SLOTS?"
    )


@pytest.mark.parametrize(
    ("wrong", "meant"),
    [
        ("ASSAY_WORKER_SLOT", "ASSAY_WORKER_SLOTS"),
        ("ASSAY_DATABSE_URL", "ASSAY_DATABASE_URL"),
        ("ASSAY_SECRETKEY", "ASSAY_SECRET_KEY"),
        ("ASSAY_LOGLEVEL", "ASSAY_LOG_LEVEL"),
        ("assay_stat_dir", "ASSAY_STATE_DIR"),
    ],
)
def test_closest_names(wrong: str, meant: str) -> None:
    (found,) = unknown_settings({wrong: "x"})
    assert found.suggestion == meant


def test_nothing_close_is_named_without_a_guess() -> None:
    (found,) = unknown_settings({"ASSAY_FROBNICATE": "1"})
    assert found.suggestion is None
    assert found.message().endswith("is not an Assay setting and is ignored")


def test_settings_and_assays_other_variables_are_not_warned_about() -> None:
    environ = {name: "1" for name in setting_names()}
    environ |= {name: "1" for name in OTHER_VARIABLES if name != "ASSAY_CONFIG_FILE"}
    environ |= {
        "ASSAY_TEST_POSTGRES_URL": "postgresql://x",
        "ASSAY_REQUIRE_NATIVE": "1",
        "ASSAY_BENCH_POSTGRES_URL": "postgresql://x",
        "ASSAY_COMPAT_BACKEND": "native",
        "assay_worker_slots": "2",  # settings are read case-insensitively
        "NOT_ASSAY_AT_ALL": "1",
    }
    assert messages(environ) == []
    assert len(setting_names()) == len(Settings.model_fields)


def test_config_file_keys(tmp_path: Path) -> None:
    config = tmp_path / "assay.env"
    config.write_text(
        "# the server\n"
        "ASSAY_WORKER_SLOTS=3\n"
        "export ASSAY_LOG_LEVL=DEBUG\n"
        "STATE_DIR=/srv/assay\n"  # without the prefix: ignored by the settings
        "ASSAY_TEST_POSTGRES_URL=postgresql://x\n"
    )
    environ = {"ASSAY_CONFIG_FILE": str(config)}
    source = f"config file {config}"
    assert [(u.name, u.source, u.suggestion) for u in unknown_settings(environ)] == [
        ("ASSAY_LOG_LEVL", source, "ASSAY_LOG_LEVEL"),
        ("STATE_DIR", source, "ASSAY_STATE_DIR"),
    ]
    # what the warning says is true: the settings really ignore those keys
    settings = Settings(_env_file=str(config))  # type: ignore[call-arg]
    assert settings.worker_slots == 3
    assert settings.log_level == Settings().log_level
    assert settings.state_dir == Settings().state_dir


def test_a_config_file_that_cannot_be_read_is_said(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.env"
    (found,) = unknown_settings({"ASSAY_CONFIG_FILE": str(missing)})
    assert found.name == "ASSAY_CONFIG_FILE"
    assert "cannot be read" in found.message()
    assert str(missing) in found.message()


def test_every_assay_variable_the_project_uses_is_known() -> None:
    """Scripts, deployment files, docs and code use only settings or allowed names, so a
    deployment made from them starts without a warning."""
    used: dict[str, str] = {}
    for folder in ("src", "scripts", "deploy", "docs", "bench", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for line in text.splitlines():
                if "is not an Assay setting" in line:
                    continue  # the warning quoted (docs), not a name in use
                for name in re.findall(r"\bASSAY_[A-Z0-9_]*[A-Z0-9]", line):
                    used.setdefault(name, str(path.relative_to(ROOT)))
    # the tests set variables of their own (canaries that must not leak into a sandbox,
    # misspellings on purpose): only those they read from the environment count
    for path in (ROOT / "tests").rglob("*.py"):
        for name in READ_FROM_ENVIRONMENT.findall(path.read_text()):
            used.setdefault(name, str(path.relative_to(ROOT)))
    unknown = {
        name: where
        for name, where in used.items()
        if f"{name}_" not in OTHER_PREFIXES  # a prefix, named in prose
        and name not in setting_names()
        and name not in OTHER_VARIABLES
        and not name.startswith(OTHER_PREFIXES)
    }
    assert unknown == {}


def test_the_cli_warns_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env |= {"ASSAY_STATE_DIR": str(tmp_path), "ASSAY_WORKR_SLOTS": "4"}
    done = subprocess.run(
        [str(ASSAY), "course", "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (
        "ASSAY_WORKR_SLOTS (in the environment) is not an Assay setting and is ignored; "
        "did you mean ASSAY_WORKER_SLOTS?"
    ) in done.stderr
    del env["ASSAY_WORKR_SLOTS"]
    env["ASSAY_REQUIRE_NATIVE"] = "1"
    clean = subprocess.run(
        [str(ASSAY), "course", "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert clean.returncode == 0, clean.stderr
    assert "not an Assay setting" not in clean.stderr
