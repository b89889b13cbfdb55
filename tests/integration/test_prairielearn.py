"""PrairieLearn questions: the three of examples/prairielearn imported with one command
each, and every submission graded as PrairieLearn's Python autograder grades it.

``assay assignment import-prairielearn`` writes each package and checks it (the
correct submission at full marks, the starter and the wrong ones below). Then each
submission is graded with ``assay grade``: the score of every test must be the one
PrairieLearn gives, worked out by hand from its rules (points x the last
``Feedback.set_score``, 0 when never set; ``Feedback.finish`` and an exception under
``call_user`` stop grading; an exception while the student's code loads scores 0).
PrairieLearn's grader image cannot be pulled on this machine, so these expected
scores, written in the table below and in docs/importers.md, stand in for running it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.checking import CheckReport
from assay.grading.prairielearn_import import import_prairielearn, read_question
from assay.sandbox.backends import get_backend

pytestmark = [pytest.mark.native]

ASSAY = Path(sys.executable).with_name("assay")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prairielearn"
# question -> submission -> the score of each test, in test.py's order (PrairieLearn's)
EXPECTED: dict[str, dict[str, list[float]]] = {
    "fibonacci": {  # 1 + 2 + 3 points
        "correct": [1, 2, 3],
        "off-by-one": [1, 0, 0],  # fib(0), fib(1) right; every later value shifted
        "recursive-slow": [1, 2, 2.1],  # 7 of the 10 values (n <= 20): 0.7 x 3
        "crashes": [0, 0, 0],  # call_user raised: grading stopped at the first test
    },
    "linear-solve": {  # 1 + 3 + 1 points, python3-scientific
        "correct": [1, 3, 1],
        "uses-inv": [0, 0, 0],  # numpy.linalg.inv is not allowed: the code raised
        "wrong-formula": [1, 0, 0],  # right shape, wrong values
        "rounded": [1, 0, 0.5],  # not allclose; a residual below 0.1 is half credit
    },
    "word-stats": {  # 2 + 2 + 3 + 1 points, stats.py from pl-file-upload
        "correct": [2, 2, 3, 1],
        "case-sensitive": [2, 1, 3, 1],  # 2 of the 4 texts have capitals
        "no-top-words": [2, 2, 0, 0],  # finish_test; the docstring assertion fails
        "ties-unordered": [2, 2, 1, 0],  # 1 of 3 cases; no docstrings
    },
}


def _assay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASSAY), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckReport]:
    """Each question imported and checked; the check graded every submission."""
    dest = tmp_path_factory.mktemp("prairielearn")
    reports = {}
    for question, submissions in EXPECTED.items():
        subs = EXAMPLES / "submissions" / question
        done = import_prairielearn(
            EXAMPLES / "questions" / question,
            dest / question,
            backend=get_backend("native"),
            solution=subs / "correct",
            bad=[subs / s for s in submissions if s != "correct"],
        )
        assert done.check is not None
        assert done.check.ok, done.check.reasons
        reports[question] = done.check
    return reports


@pytest.mark.parametrize("question", list(EXPECTED))
def test_scores_per_test_equal_prairielearn(
    imported: dict[str, CheckReport], question: str
) -> None:
    reports = {e.label: e.report for e in imported[question].entries}
    labels = {"correct": "solution"} | {
        s: f"bad/{i}-{s}" for i, s in enumerate(list(EXPECTED[question])[1:], 1)
    }
    for submission, expected in EXPECTED[question].items():
        report = reports[labels[submission]]
        assert report is not None, submission
        scores = [round(t.score, 4) for t in report.tests]
        assert scores == expected, (submission, report.tests)
        assert report.score == pytest.approx(sum(expected)), submission


def test_one_command_imports_and_checks(tmp_path: Path) -> None:
    subs = EXAMPLES / "submissions" / "word-stats"
    done = _assay(
        "assignment", "import-prairielearn", str(EXAMPLES / "questions" / "word-stats"),
        "--dest", str(tmp_path), "--solution", str(subs / "correct"),
        "--bad", str(subs / "no-top-words"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created" in done.stdout
    assert "8 points, 4 tests" in done.stdout
    assert "check passed" in done.stdout
    manifest = (tmp_path / "word-stats" / "assignment.toml").read_text()
    assert 'required_files = ["stats.py"]' in manifest
    assert "points = 8.0" in manifest
    assert 'kind = "prairielearn"' in manifest
    data = json.loads((tmp_path / "word-stats" / "tests" / "data.json").read_text())
    assert [v["name"] for v in data["params"]["names_from_user"]] == ["word_counts", "top_words"]
    again = _assay(
        "assignment", "import-prairielearn", str(EXAMPLES / "questions" / "word-stats"),
        "--dest", str(tmp_path), "--solution", str(subs / "no-top-words"),
    )  # fmt: skip
    assert again.returncode != 0  # the directory is not empty (no --force)


def test_the_environment_follows_the_imports() -> None:
    assert read_question(EXAMPLES / "questions" / "linear-solve").environment == (
        "python3-scientific"
    )
    assert read_question(EXAMPLES / "questions" / "fibonacci").environment == "python3"


def test_a_forged_result_line_from_student_code_scores_nothing(tmp_path: Path) -> None:
    """The student's module writes result-looking lines to every descriptor it can."""
    forger = tmp_path / "forger"
    forger.mkdir()
    (forger / "user_code.py").write_text(
        "import os\n"
        'line = b\'{"id": "test_0", "outcome": "passed", "fraction": 1}\\tdeadbeef\\n\'\n'
        "for fd in range(0, 20):\n"
        "    try:\n"
        "        os.write(fd, line)\n"
        "    except OSError:\n"
        "        pass\n"
        "for proc in ('/proc/1/fd/1', '/proc/self/fd/1'):\n"
        "    try:\n"
        "        with open(proc, 'wb') as out:\n"
        "            out.write(line)\n"
        "    except OSError:\n"
        "        pass\n"
        "def fib(n):\n"
        "    return 0\n"
    )
    package = tmp_path / "fibonacci"
    import_prairielearn(EXAMPLES / "questions" / "fibonacci", package)
    done = _assay("grade", str(package), str(forger), "--json")
    report = json.loads(done.stdout)
    assert report["score"] == 0, report["tests"]


def test_refuses_what_it_cannot_translate(tmp_path: Path) -> None:
    question = tmp_path / "q"
    (question / "tests").mkdir(parents=True)
    (question / "info.json").write_text('{"title": "t", "gradingMethod": "Internal"}')
    with pytest.raises(PackageError, match="not externally graded"):
        read_question(question)
    (question / "info.json").write_text(
        '{"gradingMethod": "External", "externalGradingOptions": {"image": "me/grader-c"}}'
    )
    with pytest.raises(PackageError, match="not prairielearn/grader-python"):
        read_question(question)
    source = EXAMPLES / "questions" / "fibonacci"
    (question / "info.json").write_text((source / "info.json").read_text())
    for name in ("ans.py", "setup_code.py", "test.py"):
        (question / "tests" / name).write_text((source / "tests" / name).read_text())
    (question / "tests" / "leading_code.py").write_text("import math\n")
    with pytest.raises(PackageError, match="leading/trailing code"):
        import_prairielearn(question, tmp_path / "out")
    assert any("names_from_user" in n for n in read_question(question).notes)
