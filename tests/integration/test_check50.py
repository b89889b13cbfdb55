"""check50 problems: the three of examples/check50 translated, and every submission's
verdict per check equal to the one the real check50 (3.5.0, run side by side) gives.

Each problem is imported (the package is checked: the correct submission at full
marks, the others below); the import grades every submission. The real check50
runs the same problem on the same submissions (``check50 --dev``, offline, in a
bubblewrap box with no network). For each check, check50's verdict (passed, failed,
or skipped: ``null``) must equal Assay's: a check with tests passes when all of them
pass and is skipped when they were not run (a failed dependency or build); ``exists``
is the submission's required files, a ``compile``-only check the build. The checks
that could not be translated are listed by the import and left out of the table.
The table is in docs/importers.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assay.grading.check50_import import Check50Problem, import_check50, read_problem
from assay.grading.outcome import BuildStatus, TestStatus
from assay.grading.report import GradeReport
from assay.sandbox.backends import get_backend

pytestmark = [pytest.mark.native]

CHECK50 = Path(sys.executable).with_name("check50")
ASSAY = Path(sys.executable).with_name("assay")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "check50"
T, F, S = True, False, None  # passed, failed, skipped (check50's null)
# problem -> submission -> check -> verdict (check50's and Assay's)
EXPECTED: dict[str, dict[str, dict[str, bool | None]]] = {
    "greet": {
        "correct": {"exists": T, "compiles": T, "emma": T, "rodrigo": T, "empty": T},
        "no-prompt": {"exists": T, "compiles": T, "emma": F, "rodrigo": F, "empty": F},
        "accepts-empty": {"exists": T, "compiles": T, "emma": T, "rodrigo": T, "empty": F},
        "no-newline": {"exists": T, "compiles": T, "emma": F, "rodrigo": F, "empty": T},
        "does-not-compile": {"exists": T, "compiles": F, "emma": S, "rodrigo": S, "empty": S},
    },
    "reverse": {
        "correct": {
            "exists": T,
            "compiles": T,
            "three": T,
            "from_file": T,
            "usage": T,
            "memory": T,
        },
        "leaks": {"exists": T, "compiles": T, "three": T, "from_file": T, "usage": T, "memory": F},
        "same-order": {
            "exists": T,
            "compiles": T,
            "three": F,
            "from_file": F,
            "usage": T,
            "memory": S,
        },
        "usage-exit-0": {
            "exists": T,
            "compiles": T,
            "three": T,
            "from_file": T,
            "usage": F,
            "memory": T,
        },
    },
    "bank": {
        "correct": dict.fromkeys(
            ["exists", "compiles", "imports", "deposit", "number", "negative", "text", "quits"],
            T,
        ),
        "no-loop": {
            "exists": T,
            "compiles": T,
            "imports": T,
            "deposit": T,
            "number": T,
            "negative": F,
            "text": F,
            "quits": T,
        },
        "no-main-guard": {
            "exists": T,
            "compiles": T,
            "imports": F,
            "deposit": T,
            "number": T,
            "negative": T,
            "text": T,
            "quits": T,
        },
        "quit-exit-1": {
            "exists": T,
            "compiles": T,
            "imports": T,
            "deposit": T,
            "number": T,
            "negative": T,
            "text": T,
            "quits": F,
        },
    },
}
UNTRANSLATED = {"greet": ["many"], "reverse": ["many"], "bank": []}


def real_check50(problem: Path, submission: Path, work: Path) -> dict[str, bool | None]:
    """check50's verdict per check: --dev (offline), in a box without network."""
    shutil.copytree(submission, work / "sub")
    (work / "home").mkdir()
    (work / "tmp").mkdir()
    out = work / "results.json"
    # The host's / stays visible read-only, /tmp included: a checkout (and its venv,
    # whose check50 runs here) may well live under /tmp, as CI's clones do.
    argv = [
        "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        "--bind", str(work), str(work),
        "--unshare-net", "--unshare-pid", "--die-with-parent",
        "--setenv", "HOME", str(work / "home"), "--setenv", "TMPDIR", str(work / "tmp"),
        "--chdir", str(work / "sub"),
        str(CHECK50), "--dev", "-o", "json", "--output-file", str(out), str(problem),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), f"check50 wrote no results (status {done.returncode}): {done.stderr}"
    results = json.loads(out.read_text())
    assert results.get("error") is None, (results, done.stderr)
    return {r["name"]: r["passed"] for r in results["results"]}


def assay_verdicts(problem: Check50Problem, report: GradeReport) -> dict[str, bool | None]:
    statuses = {t.name: t.status for t in report.tests}
    built = report.build.status in {BuildStatus.PASSED, BuildStatus.SKIPPED}
    verdicts: dict[str, bool | None] = {}
    for check in problem.checks:
        if not check.translated:
            continue
        tests = problem.tests_of(check.name)
        if not tests:  # exists (graded: the files were there) and the build
            verdicts[check.name] = built if check.build else True
        elif any(statuses[t.name] is TestStatus.SKIPPED for t in tests):
            verdicts[check.name] = None
        else:
            verdicts[check.name] = all(statuses[t.name] is TestStatus.PASSED for t in tests)
    return verdicts


@pytest.mark.parametrize("name", list(EXPECTED))
def test_verdicts_per_check_equal_real_check50(name: str, tmp_path: Path) -> None:
    problem_dir = EXAMPLES / "problems" / name
    subs = EXAMPLES / "submissions" / name
    others = [subs / s for s in EXPECTED[name] if s != "correct"]
    # check50 runs beside the import (which grades every submission): half the time
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            s: pool.submit(real_check50, problem_dir, subs / s, tmp_path / s)
            for s in EXPECTED[name]
        }
        done = import_check50(
            problem_dir,
            tmp_path / "package",
            solution=subs / "correct",
            bad=others,
            backend=get_backend("native"),
        )
        real = {s: f.result() for s, f in futures.items()}
    assert done.check is not None
    assert done.check.ok, done.check.reasons
    untranslated = [c.name for c in done.problem.checks if not c.translated]
    assert untranslated == UNTRANSLATED[name]
    reports = {e.label: e.report for e in done.check.entries}
    labels = {"correct": "solution"} | {
        s: f"bad/{i}-{s}" for i, s in enumerate(list(EXPECTED[name])[1:], 1)
    }
    for submission, expected in EXPECTED[name].items():
        report = reports[labels[submission]]
        assert report is not None, submission
        theirs = {k: v for k, v in real[submission].items() if k not in UNTRANSLATED[name]}
        ours = assay_verdicts(done.problem, report)
        assert (theirs, ours) == (expected, expected), submission


def test_untranslated_statements_are_listed_with_their_lines(tmp_path: Path) -> None:
    problem = read_problem(EXAMPLES / "problems" / "reverse")
    where = [p.where for p in problem.untranslated]
    assert where == ["__init__.py:47", "__init__.py:48", "__init__.py:49"]
    done = subprocess.run(
        [str(ASSAY), "assignment", "import-check50", str(EXAMPLES / "problems" / "reverse"),
         "--solution", str(EXAMPLES / "submissions" / "reverse" / "correct"),
         "--dest", str(tmp_path), "--no-check"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "5 tests from 6 of 7 checks" in done.stdout
    assert "__init__.py:49" in done.stderr
    notes = (tmp_path / "reverse" / "NOTES.md").read_text()
    assert "__init__.py:48" in notes
    strict = subprocess.run(
        [str(ASSAY), "assignment", "import-check50", str(EXAMPLES / "problems" / "reverse"),
         "--solution", str(EXAMPLES / "submissions" / "reverse" / "correct"),
         "--dest", str(tmp_path / "strict"), "--no-check", "--strict"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert strict.returncode != 0
    assert "--strict" in strict.stderr


def test_a_problem_with_nothing_translatable_is_refused(tmp_path: Path) -> None:
    problem = tmp_path / "p"
    problem.mkdir()
    (problem / ".cs50.yml").write_text("check50:\n  files:\n    - !require a.c\n")
    (problem / "__init__.py").write_text(
        "import check50\n\n@check50.check()\ndef loops():\n"
        '    """loops"""\n    for i in range(3):\n        check50.run("./a").exit(i)\n'
    )
    with pytest.raises(Exception, match="nothing of the problem could be translated"):
        import_check50(problem, tmp_path / "out", solution=problem)
