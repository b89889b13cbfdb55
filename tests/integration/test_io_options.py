"""io options of issue 16 (expected stderr, several runs, a failure message), native sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

MANIFEST = """
[assignment]
name = "io-options"
environment = "python3"

[run]
command = ["python3", "main.py"]

[[tests]]
name = "usage-on-stderr"
args = []
expected = ""
expected_stderr = "usage: main.py N\\n"
exit_code = 1

[[tests]]
name = "stderr-regex"
args = ["-5"]
expected_stderr = "negative: -?\\\\d+"
checker = { type = "regex" }
exit_code = 2

[[tests]]
name = "squares"
message = "Remember: the square of n is n * n."
runs = [
  { args = ["2"], expected = "4\\n" },
  { args = ["3"], expected = "9\\n" },
  { stdin_file = "tests/10.in", args = ["stdin"], expected_file = "tests/10.ans" },
]
"""

PROGRAM = """
import sys
if len(sys.argv) < 2:
    print("usage: main.py N", file=sys.stderr)
    sys.exit(1)
n = int(sys.stdin.read()) if sys.argv[1] == "stdin" else int(sys.argv[1])
if n < 0:
    print(f"negative: {n}", file=sys.stderr)
    sys.exit(2)
print(n * n)
"""


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("io-options")
    (root / "assignment.toml").write_text(MANIFEST)
    (root / "tests").mkdir()
    (root / "tests/10.in").write_text("10\n")
    (root / "tests/10.ans").write_text("100\n")
    return root


def outcomes(package_dir: Path, program: str) -> dict[str, TestOutcome]:
    require_backend("native")
    with load_package(package_dir) as package:
        report = grade(
            package, FileSet.from_mapping({"main.py": program}), backend=get_backend("native")
        )
    return {t.name: t for t in report.tests}


def test_the_right_program_passes_every_option(package_dir: Path) -> None:
    got = outcomes(package_dir, PROGRAM)
    assert {name: t.status.value for name, t in got.items()} == dict.fromkeys(got, "passed")


def test_wrong_stderr_fails_and_shows_it(package_dir: Path) -> None:
    got = outcomes(package_dir, PROGRAM.replace("usage: main.py N", "Usage: main.py <n>"))
    usage = got["usage-on-stderr"]
    assert usage.status.value == "failed"
    assert usage.message.startswith("standard error: ")
    assert usage.expected == "usage: main.py N\n"
    assert usage.actual == "Usage: main.py <n>\n"
    silent = outcomes(package_dir, PROGRAM.replace('print(f"negative: {n}", file=sys.stderr)', ""))
    assert silent["stderr-regex"].status.value == "failed"


def test_the_first_failing_run_is_shown_with_the_instructors_message(package_dir: Path) -> None:
    wrong_on_stdin = PROGRAM.replace("print(n * n)", "print(n * n if n < 3 else n + n)")
    squares = outcomes(package_dir, wrong_on_stdin)["squares"]
    assert squares.status.value == "failed"
    assert squares.score == 0
    lines = squares.message.splitlines()
    assert lines[0] == "Remember: the square of n is n * n."
    assert lines[1].startswith("run 2 of 3 (arguments: 3): ")
    assert (squares.expected, squares.actual) == ("9\n", "6\n")
    only_stdin = PROGRAM.replace("int(sys.stdin.read())", "int(sys.stdin.read()) + 1")
    third = outcomes(package_dir, only_stdin)["squares"]
    assert "run 3 of 3 (arguments: stdin)" in third.message
    assert (third.expected, third.actual) == ("100\n", "121\n")


def test_run_options_are_validated_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text(
        MANIFEST.replace('stdin_file = "tests/10.in"', 'stdin_file = "tests/missing.in"')
    )
    with pytest.raises(PackageError) as info:
        load_package(tmp_path)
    assert info.value.key == "tests[2].runs[2].stdin_file"
    (tmp_path / "assignment.toml").write_text(
        MANIFEST.replace('expected = "9\\n"', 'expected = "9", expected_file = "x"')
    )
    with pytest.raises(PackageError) as info:
        load_package(tmp_path)
    assert info.value.key == "tests[2].runs[1]"
    assert "give expected or expected_file, not both" in str(info.value)
