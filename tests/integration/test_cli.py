"""The ``assay sandbox`` command line, run as a user runs it (native backend)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import require_backend

pytestmark = pytest.mark.native

ASSAY = Path(sys.executable).with_name("assay")
JSON_KEYS = [
    "termination",
    "exit_code",
    "signal",
    "cpu_time_s",
    "wall_time_s",
    "peak_memory_bytes",
    "stdout",
    "stderr",
    "stdout_truncated",
    "stderr_truncated",
]


def assay(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    require_backend("native")
    return subprocess.run(
        [str(ASSAY), *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def test_json_has_exactly_the_documented_keys_and_the_program_status() -> None:
    proc = assay("sandbox", "run", "--json", "--", "sh", "-c", "printf 'a\\377b'; exit 3")
    result = json.loads(proc.stdout)
    assert list(result) == JSON_KEYS
    assert result["termination"] == "exited"
    assert result["exit_code"] == 3
    assert result["stdout"] == "a\ufffdb"
    assert proc.returncode == 3


@pytest.mark.parametrize(
    ("options", "command", "termination", "status"),
    [
        (["--cpu-time", "0.5"], ["python3", "-c", "while True: pass"], "cpu_time_limit", 124),
        (["--wall-time", "0.5"], ["sleep", "10"], "wall_time_limit", 124),
        (["--memory", "32m"], ["python3", "-c", "b = bytearray(1 << 28)"], "memory_limit", 125),
        (["--output", "1k"], ["sh", "-c", "yes"], "output_limit", 125),
        ([], ["sh", "-c", "kill -SEGV $$"], "signaled", 139),
    ],
)
def test_limits_and_exit_statuses(
    options: list[str], command: list[str], termination: str, status: int
) -> None:
    proc = assay("sandbox", "run", "--json", *options, "--", *command)
    assert json.loads(proc.stdout)["termination"] == termination
    assert proc.returncode == status


def test_human_mode_passes_output_through_and_summarises(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(
        "import os, sys\nprint(sys.stdin.read().upper(), os.environ['WHO'])\n"
    )
    proc = assay(
        "sandbox",
        "run",
        "--dir",
        str(tmp_path),
        "--stdin",
        "-",
        "--env",
        "WHO=me",
        "--",
        "python3",
        "main.py",
        stdin=b"hi",
    )
    assert proc.returncode == 0
    assert proc.stdout == b"HI me\n"
    assert b"exited with status 0" in proc.stderr


def test_bad_options_are_usage_errors_with_a_message() -> None:
    proc = assay("sandbox", "run", "--memory", "lots", "--", "true")
    assert proc.returncode == 2
    assert b"invalid size" in proc.stderr
    proc = assay("sandbox", "run", "--env", "NOEQUALS", "--", "true")
    assert proc.returncode == 2
    assert b"KEY=VALUE" in proc.stderr


def test_check_passes_here_and_prints_the_table() -> None:
    proc = assay("sandbox", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for feature in (
        b"user namespaces",
        b"cgroups",
        b"seccomp",
        b"memory limit",
        b"whole process tree killed",
    ):
        assert feature in proc.stdout
