"""The ``assay`` command loads each sub-command's module only when it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.cli import assignment, main
from assay.cli.lazy import LazyCommand, load_command

ASSAY = Path(sys.executable).with_name("assay")
HEAVY = ("fastapi", "sqlalchemy", "uvicorn", "assay.web", "assay.services", "argon2")
TABLES = [("assay", main.COMMANDS), ("assay assignment", assignment.COMMANDS)]


def _modules_after(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(proc.stdout.split())


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}


@pytest.mark.parametrize(
    ("parent", "name", "lazy"), [(p, n, c) for p, t in TABLES for n, c in t.items()]
)
def test_the_listed_help_is_the_commands_own(parent: str, name: str, lazy: LazyCommand) -> None:
    command = load_command(name, lazy)
    assert command.name == name
    assert command.get_short_help_str(limit=200) == lazy.help, f"{parent} {name}"


def test_the_light_commands_import_no_web_or_database_code() -> None:
    assert _heavy(_modules_after("import assay.cli.main")) == set()
    light = "import assay.cli.grade, assay.cli.sandbox, assay.cli.assignment"
    assert _heavy(_modules_after(light)) == set()
    # The check can fail: the server command does import them.
    assert {"fastapi", "sqlalchemy", "uvicorn"} <= _heavy(_modules_after("import assay.cli.serve"))


def test_help_lists_every_command_and_a_lazy_command_runs() -> None:
    listing = subprocess.run(
        [str(ASSAY), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for name, lazy in main.COMMANDS.items():
        assert any(
            line.split()[1:2] == [name] and lazy.help in line for line in listing.splitlines()
        )
    usage = subprocess.run(
        [str(ASSAY), "assignment", "upload", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "Usage: assay assignment upload" in usage


def test_an_unknown_command_is_a_usage_error_with_suggestions() -> None:
    proc = subprocess.run(
        [str(ASSAY), "sandbx"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "'sandbox'" in proc.stderr
