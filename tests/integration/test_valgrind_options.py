"""valgrind options of issue 16 (leak kinds, fail_on, input files, checkers), native sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome
from assay.grading.report import ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

MANIFEST = """
[assignment]
name = "valgrind-options"
environment = "c"

[build]
commands = [["gcc", "-g", "-O0", "-o", "prog", "prog.c"]]

[run]
command = ["./prog"]

[[tests]]
name = "reachable-by-default"
kind = "valgrind"
stdin = "keep\\n"
expected = "kept\\n"

[[tests]]
name = "reachable-all"
kind = "valgrind"
stdin = "keep\\n"
leak_kinds = "all"

[[tests]]
name = "possible-and-reachable"
kind = "valgrind"
stdin = "keep\\n"
leak_kinds = "possible,reachable"

[[tests]]
name = "any-error"
kind = "valgrind"
stdin = "keep\\n"
expected = "kept\\n"
fail_on = "any"

[[tests]]
name = "files-and-checker"
kind = "valgrind"
args = ["data.txt"]
stdin_file = "tests/in.txt"
input_files = { "data.txt" = "tests/data.txt" }
expected = "sum 6"
checker = { type = "custom", program = "checkers/check.py" }

[[tests]]
name = "checker-rejects"
kind = "valgrind"
args = ["data.txt"]
stdin = "2\\n"
input_files = { "data.txt" = "tests/data.txt" }
expected = "sum 6"
checker = { type = "custom", program = "checkers/check.py" }
"""

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *kept;  /* still reachable at exit */

int main(int argc, char **argv) {
    char line[64] = {0};
    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        int a, total = 0;
        while (f && fscanf(f, "%d", &a) == 1) total += a;
        if (f) fclose(f);
        if (fgets(line, sizeof line, stdin)) total *= atoi(line);
        printf("the sum is %d\n", total);
        return 0;
    }
    if (fgets(line, sizeof line, stdin) && strcmp(line, "keep\n") == 0) {
        kept = malloc(64);
        strcpy(kept, "kept");
        puts(kept);
    }
    return 0;
}
"""

CHECK_PY = """
import re, sys
_inp, ans, feedback = sys.argv[1:4]
want = open(ans).read().split()[-1]
got = re.findall(r"-?\\d+", sys.stdin.read())
if got and got[-1] == want:
    sys.exit(42)
with open(feedback + "judgemessage.txt", "w") as f:
    f.write("the last number should be " + want)
sys.exit(43)
"""


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vg-options")
    files = {
        "assignment.toml": MANIFEST,
        "tests/in.txt": "1\n",
        "tests/data.txt": "1 2 3\n",
        "checkers/check.py": CHECK_PY,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def outcomes(package_dir: Path, program: str) -> dict[str, TestOutcome]:
    require_backend("native", "c")
    with load_package(package_dir) as package:
        report = grade(
            package, FileSet.from_mapping({"prog.c": program}), backend=get_backend("native")
        )
    assert report.status is ReportStatus.GRADED, report.staff_error
    return {t.name: t for t in report.tests}


def test_leak_kinds_fail_on_input_files_and_checkers(package_dir: Path) -> None:
    got = outcomes(package_dir, PROGRAM)
    assert got["reachable-by-default"].status == "passed"  # definite,indirect: reachable is fine
    for name in ("reachable-all", "possible-and-reachable", "any-error"):
        test = got[name]
        assert test.status == "failed", name
        assert [(f.kind, f.bytes, f.file) for f in test.findings] == [
            ("Leak_StillReachable", 64, "prog.c")
        ], name
        assert "still reachable" in test.message
    files = got["files-and-checker"]
    assert files.status == "passed", files.message
    rejected = got["checker-rejects"]  # the same files, stdin 2: "the sum is 12"
    assert rejected.status == "failed"
    assert "wrong output: the last number should be 6" in rejected.message
    assert rejected.findings == ()
