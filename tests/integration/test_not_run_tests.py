"""Tests that are not run: after a failed build, and after a failed dependency (native sandbox).

Issue 16 item 7: a build failure used to be shown as N failed tests, each
repeating the build command. It is shown once, the tests are "not run"
(``skipped``) in the CLI, the JSON report, JUnit and Gradescope.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.report import GradeReport
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

ASSAY = Path(sys.executable).with_name("assay")
BUILD_COMMAND = "gcc -std=c17 -O2 -Wall -o prog main.c"


def assay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    require_backend("native")
    return subprocess.run(
        [str(ASSAY), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def c_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pkg")
    proc = assay("assignment", "init", "sum-c", "--language", "c", "--dir", root)
    assert proc.returncode == 0, proc.stderr
    return root / "sum-c"


def broken_submission(root: Path) -> Path:
    (root / "broken").mkdir()
    (root / "broken/main.c").write_text("int main( { return 0; }\n")
    return root / "broken"


def test_a_build_failure_is_shown_once_and_the_tests_as_not_run(
    c_package: Path, tmp_path: Path
) -> None:
    submission = broken_submission(tmp_path)
    gradescope, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    proc = assay("grade", c_package, submission, "--gradescope", gradescope, "--junit", junit)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "build: failed" in out
    assert out.count("skipped") == 3  # the table: sample, negative, large
    assert " failed " not in out.split("build:")[0]  # no test is shown as failed
    assert out.count("gcc") <= 1  # the build command is not repeated per test
    assert "3 tests not run: the build failed" in out

    report = GradeReport.model_validate_json(assay("grade", c_package, submission, "--json").stdout)
    assert [(t.status, t.message, t.score) for t in report.tests] == [
        ("skipped", "not run: the build failed", 0)
    ] * 3
    assert report.build.status == "failed"
    assert BUILD_COMMAND in report.build.log  # the one place the build is shown

    results = json.loads(gradescope.read_text())
    not_run = "not run: the build failed"
    assert [t["output"] for t in results["tests"]] == [not_run, not_run, "not run"]  # 3: hidden
    assert [t["status"] for t in results["tests"]] == ["failed"] * 3  # Gradescope's two values
    assert [t["extra_data"] for t in results["tests"]] == [{"assay_status": "skipped"}] * 3
    assert results["output"].count(BUILD_COMMAND) == 1

    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 - our own output
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "3")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    build_failure = cases["build"].find("failure")
    assert build_failure is not None
    assert BUILD_COMMAND in (build_failure.text or "")
    for name in ("sample", "negative", "large"):
        skipped = cases[name].find("skipped")
        assert skipped is not None
        assert skipped.get("message") == "not run: the build failed"
        assert cases[name].find("failure") is None


# --- depends ------------------------------------------------------------------------------------

DEPENDS_MANIFEST = """
[assignment]
name = "chain"
environment = "python3"

[run]
command = ["python3", "main.py"]

[[tests]]
name = "greets"          # declared before what it depends on: run after it all the same
stdin = "hello\\n"
expected = "hi\\n"
depends = ["starts"]

[[tests]]
name = "starts"
stdin = "start\\n"
expected = "ok\\n"

[[tests]]
name = "farewell"
stdin = "bye\\n"
expected = "ciao\\n"
depends = "greets"

[[tests]]
name = "independent"
stdin = "start\\n"
expected = "ok\\n"
"""

PROGRAM = """
import sys
line = sys.stdin.readline().strip()
print({"start": "ok", "hello": "hi", "bye": "ciao"}.get(line, "?"))
"""


def grade_chain(tmp_path: Path, program: str, parallel_runs: int) -> GradeReport:
    require_backend("native")
    root = tmp_path / "chain"
    root.mkdir(parents=True)
    (root / "assignment.toml").write_text(DEPENDS_MANIFEST)
    with load_package(root) as package:
        return grade(
            package,
            FileSet.from_mapping({"main.py": program}),
            backend=get_backend("native"),
            parallel_runs=parallel_runs,
        )


@pytest.mark.parametrize("parallel_runs", [1, 4])
def test_dependents_of_a_failed_test_are_skipped_transitively(
    tmp_path: Path, parallel_runs: int
) -> None:
    broken = PROGRAM.replace('"start": "ok"', '"start": "no"')
    report = grade_chain(tmp_path, broken, parallel_runs)
    statuses = {t.name: (t.status.value, t.message, t.score) for t in report.tests}
    assert [t.name for t in report.tests] == ["greets", "starts", "farewell", "independent"]
    assert statuses["starts"][0] == "failed"
    assert statuses["greets"] == ("skipped", "not run: depends on starts, which failed", 0)
    assert statuses["farewell"] == ("skipped", "not run: depends on greets, which was not run", 0)
    assert statuses["independent"][0] == "failed"
    assert report.score == 0

    ok = grade_chain(tmp_path / "ok", PROGRAM, parallel_runs)
    assert [t.status.value for t in ok.tests] == ["passed"] * 4
    assert ok.score == 4


def test_the_cli_shows_why_a_dependent_was_not_run(tmp_path: Path) -> None:
    root = tmp_path / "chain"
    root.mkdir()
    (root / "assignment.toml").write_text(DEPENDS_MANIFEST)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/main.py").write_text(PROGRAM.replace('"hello": "hi"', '"hello": "yo"'))
    proc = assay("grade", root, tmp_path / "sub", "--junit", tmp_path / "j.xml")
    assert proc.returncode == 0, proc.stderr
    assert "not run: depends on greets, which failed" in proc.stdout
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")  # noqa: S314
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")
