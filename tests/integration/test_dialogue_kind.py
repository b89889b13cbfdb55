"""The ``dialogue`` kind through the grading engine, on each sandbox backend.

A C program's prompt without a newline stays in stdio's buffer on a pipe;
on the run's terminal it reaches the test before the program reads, so the
conversation goes as it does at a keyboard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

MANIFEST = """\
[assignment]
name = "cash"
environment = "c"

[build]
commands = [["gcc", "-o", "cash", "cash.c"]]

[run]
command = "./cash"

[[tests]]
name = "change owed"
kind = "dialogue"
steps = [{send = "41"}, {expect_number = 4, shown = "4 coins"}, {exit = 0}]

[[tests]]
name = "rejects a negative amount"
kind = "dialogue"
steps = [{send = "-1"}, {reject = true}]

[[tests]]
name = "ends after the answer"
kind = "dialogue"
points = 2
steps = [{send = "25"}, {expect = "1\\n"}, {expect_eof = true}]
"""

CASH = r"""
#include <stdio.h>
int main(void)
{
    int cents = -1;
    while (cents < 0) {
        printf("Change owed: ");          /* no newline: buffered on a pipe */
        if (scanf("%d", &cents) != 1)
            return 1;
    }
    int coins = 0;
    int values[] = {25, 10, 5, 1};
    for (int i = 0; i < 4; i++) {
        coins += cents / values[i];
        cents %= values[i];
    }
    printf("%d\n\n", coins);              /* one blank line too many */
    return 0;
}
"""


@pytest.mark.parametrize("backend_name", ["native", "docker"])
def test_a_c_program_converses_on_a_terminal(backend_name: str, tmp_path: Path) -> None:
    require_backend(backend_name, "c")
    (tmp_path / "assignment.toml").write_text(MANIFEST)
    with load_package(tmp_path) as package:
        report = grade(
            package, FileSet.from_mapping({"cash.c": CASH}), backend=get_backend(backend_name)
        )
    assert report.status is ReportStatus.GRADED, report
    tests = {t.name: t for t in report.tests}
    assert tests["change owed"].status is TestStatus.PASSED, tests["change owed"]
    assert tests["change owed"].output.splitlines() == [
        "$ ./cash",
        "[program] Change owed: ",
        "[sent]    41",
        "[program] 4",
        "[program] ",
        "[end of output, exit status 0]",
    ]
    assert tests["rejects a negative amount"].status is TestStatus.PASSED
    assert tests["rejects a negative amount"].output.splitlines()[-2:] == [
        "[program] Change owed: ",
        "[the program was still running after the last step: it was stopped]",
    ]
    ends = tests["ends after the answer"]
    assert ends.status is TestStatus.FAILED and ends.score == 0
    assert ends.message == (
        "step 3 (expect the end of the output): expected the output to end, but there was more"
    )
    assert (ends.expected, ends.actual) == ("(end of output)", "\n")
    assert ends.output.endswith("[step 3 failed here: expect the end of the output]")
    assert report.score == 2 and report.max_score == 4
