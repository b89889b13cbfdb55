"""The interactive kind on the real sandboxes (native and Docker), through ``grade``: a
guessing game whose judge (Python, and C) runs in a session of its own."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.checking import check_package
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome, TestStatus
from assay.grading.report import ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

SECRET = 37

# Kattis calling convention: judge input answer feedback_dir/; 42 accepted, 43 wrong answer
JUDGE_PY = """
import sys
secret = int(open(sys.argv[1]).read())
feedback = sys.argv[3]

def done(code, team, judge=""):
    open(feedback + "teammessage.txt", "w").write(team)
    if judge:
        open(feedback + "judgemessage.txt", "w").write(judge)
    sys.exit(code)

for turn in range(1, 11):
    line = sys.stdin.readline()
    if not line:
        done(43, "your program stopped before guessing the number", f"EOF after {turn - 1}")
    parts = line.split()
    if len(parts) != 2 or parts[0] != "guess" or not parts[1].isdigit():
        done(43, f"expected 'guess N', got {line.strip()[:40]!r}")
    guess = int(parts[1])
    if guess == secret:
        print("correct", flush=True)
        done(42, f"found in {turn} guesses")
    print("higher" if guess < secret else "lower", flush=True)
done(43, "more than 10 guesses", f"the secret was {secret}")
"""

JUDGE_C = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    FILE *in = fopen(argv[1], "r");
    int secret, guess;
    if (!in || fscanf(in, "%d", &secret) != 1) return 1;
    for (int turn = 1; turn <= 10; turn++) {
        if (scanf(" guess %d", &guess) != 1) return 43;
        if (guess == secret) { printf("correct\n"); fflush(stdout); return 42; }
        printf(guess < secret ? "higher\n" : "lower\n");
        fflush(stdout);
    }
    return 43;
}
"""

JUDGE_CRASHES = "import sys\nprint('judge bug', file=sys.stderr)\nraise SystemExit(3)\n"
JUDGE_HANGS = "import time\nwhile True:\n    time.sleep(1)\n"

GOOD = """
lo, hi = 1, 1000
while True:
    mid = (lo + hi) // 2
    print("guess", mid, flush=True)
    reply = input()
    if reply == "correct":
        break
    if reply == "higher":
        lo = mid + 1
    else:
        hi = mid - 1
"""
ALWAYS_ONE = "for _ in range(20):\n    print('guess 1', flush=True)\n    input()\n"
SLEEPS = "import time\nprint('guess 500', flush=True)\ninput()\ntime.sleep(60)\n"
WAITS_FIRST = "input()\nprint('guess 500', flush=True)\n"  # waits for the judge, who waits too
CRASHES = "print('guess 500', flush=True)\ninput()\nraise ValueError('student bug')\n"
CLOSES_STDOUT = "import os, time\nprint('guess 500', flush=True)\nos.close(1)\ntime.sleep(0.3)\n"

SAMPLE = "<\n>guess 500\n<lower\n>guess 37\n<correct\n"

MANIFEST = """
[assignment]
name = "guess"

[limits]
cpu_time_s = 2
wall_time_s = 2

[run]
command = ["python3", "main.py"]
"""

GUESS_TESTS = """
[[tests]]
name = "sample"
kind = "interactive"
judge = "judge/judge.py"
input_file = "data/1.in"
answer_file = "data/1.ans"
sample_interaction = "data/1.interaction"
"""

JUDGE_TESTS = """
[[tests]]
name = "c-judge-1"
kind = "interactive"
judge = "cjudge/"
input_file = "data/1.in"

[[tests]]
name = "c-judge-2"
kind = "interactive"
judge = "cjudge/"
input_file = "data/2.in"

[[tests]]
name = "judge-crashes"
kind = "interactive"
judge = "crash.py"
input_file = "data/1.in"

[[tests]]
name = "judge-hangs"
kind = "interactive"
judge = "hang.py"
input_file = "data/1.in"
pair_wall_time_s = 1
"""


def write_package(root: Path, tests: str) -> Path:
    files = {
        "assignment.toml": MANIFEST + tests,
        "statement.md": "# Guess the number\n",
        "judge/judge.py": JUDGE_PY,
        "cjudge/guess.c": JUDGE_C,
        "crash.py": JUDGE_CRASHES,
        "hang.py": JUDGE_HANGS,
        "data/1.in": f"{SECRET}\n",
        "data/1.ans": "",
        "data/2.in": "813\n",
        "data/1.interaction": SAMPLE,
        "solution/main.py": GOOD,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    yield {
        "guess": write_package(tmp_path_factory.mktemp("guess"), GUESS_TESTS),
        "judges": write_package(tmp_path_factory.mktemp("judges"), JUDGE_TESTS),
    }


def outcomes(
    backend_name: str,
    package_dir: Path,
    main_py: str,
    status: ReportStatus = ReportStatus.GRADED,
) -> dict[str, TestOutcome]:
    with load_package(package_dir) as package:
        report = grade(
            package, FileSet.from_mapping({"main.py": main_py}), backend=get_backend(backend_name)
        )
    assert report.status is status, report.staff_error
    return {t.name: t for t in report.tests}


def test_accepted_with_the_conversation_and_the_sample(
    backend_name: str, packages: dict[str, Path]
) -> None:
    test = outcomes(backend_name, packages["guess"], GOOD)["sample"]
    assert test.status is TestStatus.PASSED, test
    assert test.score == 1.0
    assert test.message == "found in 10 guesses"  # teammessage.txt
    assert test.output.startswith(">guess 500\n<lower\n>guess 250\n")
    assert test.output.endswith(">guess 37\n<correct\n")
    assert test.expected is None  # the sample is the statement's (and the page's, from the package)
    assert "exited with status 42" in (test.staff_detail or "")


def test_wrong_answer_shows_the_team_message_and_keeps_the_judge_message_for_staff(
    backend_name: str, packages: dict[str, Path]
) -> None:
    test = outcomes(backend_name, packages["guess"], ALWAYS_ONE)["sample"]
    assert (test.status, test.message) == (TestStatus.FAILED, "more than 10 guesses"), test
    assert "judgemessage.txt: the secret was 37" in (test.staff_detail or "")
    assert test.output.count(">guess 1\n<higher\n") == 10


@pytest.mark.parametrize(
    ("program", "status", "message"),
    [
        # the submission waits forever: its own wall-time limit; the judge then sees the end
        # of its input and rejects, but after the submission ended: time limit
        (SLEEPS, TestStatus.TIMEOUT, "time limit exceeded"),
        # both wait for each other: the pair's wall-time limit ends it
        (WAITS_FIRST, TestStatus.TIMEOUT, "time limit exceeded"),
        (CRASHES, TestStatus.CRASHED, "ValueError: student bug"),
        # end of file reaches the judge: its wrong answer
        (CLOSES_STDOUT, TestStatus.FAILED, "your program stopped before guessing the number"),
    ],
    ids=["student-waits-forever", "both-wait", "runtime-error", "closes-stdout"],
)
def test_failures_of_the_submission(
    backend_name: str,
    packages: dict[str, Path],
    program: str,
    status: TestStatus,
    message: str,
) -> None:
    test = outcomes(backend_name, packages["guess"], program)["sample"]
    assert test.status is status, test
    assert message in test.message
    assert test.timing.wall_s < 3.5  # the pair's limit is 2 s


def test_c_judge_judge_error_and_a_judge_that_never_ends(
    backend_name: str, packages: dict[str, Path]
) -> None:
    # a judge's failure is an error of the grading, to be looked at by staff
    tests = outcomes(backend_name, packages["judges"], GOOD, ReportStatus.ERROR)
    for name in ("c-judge-1", "c-judge-2"):  # compiled once, used twice
        assert tests[name].status is TestStatus.PASSED, tests[name]
    crashed = tests["judge-crashes"]
    assert crashed.status is TestStatus.ERROR, crashed  # never the student's fault
    assert crashed.score == 0.0
    assert "not because of your submission" in crashed.message
    assert "judge bug" in (crashed.staff_detail or "")
    assert "exited with status 3" in (crashed.staff_detail or "")
    hangs = tests["judge-hangs"]
    assert hangs.status is TestStatus.ERROR, hangs
    assert "time limit" in (hangs.staff_detail or "")


@pytest.mark.native
def test_the_example_package_passes_its_check() -> None:
    """examples/assignments/python-interactive: the solution gets full marks, each known-bad
    submission its exact score and failure (wrong answer, run-time error). Native only: the
    scenarios above cover Docker, and this one takes 17 s there."""
    require_backend("native")
    example = Path(__file__).resolve().parents[2] / "examples/assignments/python-interactive"
    with load_package(example) as package:
        checked = check_package(package, get_backend("native"))
    assert checked.ok, checked.reasons
    assert len(checked.entries) == 4
