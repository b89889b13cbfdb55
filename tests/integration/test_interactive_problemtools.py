"""Side by side with problemtools: the same judge and the same submissions, run by
problemtools' own interactive runner (its ``interactive`` program and its verdict code,
``judge.execute._run_interactive``) on the host, and by the ``interactive`` kind in the
native sandbox. The verdicts must be the same.

Only this test's own fixture programs (the guessing game's judge and submissions) run on
the host, as problemtools runs them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from problemtools.judge import execute

from assay.grading.outcome import TestStatus
from assay.grading.report import ReportStatus
from helpers import require_backend
from integration.test_interactive_kind import (
    ALWAYS_ONE,
    CLOSES_STDOUT,
    CRASHES,
    GOOD,
    JUDGE_CRASHES,
    JUDGE_PY,
    SECRET,
    SLEEPS,
    WAITS_FIRST,
    outcomes,
    write_package,
)

# closes its output, then reads until its input ends: problemtools' judge sees the end of
# its input at once (wrong answer); ours only when the run ends (docs/kinds-interactive.md)
CLOSES_STDOUT_THEN_READS = (
    "import os, sys\nprint('guess 500', flush=True)\nos.close(1)\nsys.stdin.read()\n"
)
EOF_ON_CLOSE = pytest.mark.xfail(
    reason="the judge's input ends when the submission's run ends, not when it closes stdout",
    strict=True,
)

TIME_LIMIT_S = 0.5  # problemtools: the pair's wall limit is 2 x 0.5 s; ours: the same 1 s

# problemtools' verdicts in our statuses
VERDICTS = {
    "AC": TestStatus.PASSED,
    "WA": TestStatus.FAILED,
    "TLE": TestStatus.TIMEOUT,
    "RTE": TestStatus.CRASHED,
    "JE": TestStatus.ERROR,
}


class _Program:
    """What ``_run_interactive`` needs of a problemtools ``Program``: a command."""

    def __init__(self, argv: list[str], work_dir: Path) -> None:
        self.argv = argv
        self.work_dir = work_dir

    def compile(self, base_dir: Path) -> SimpleNamespace:
        return SimpleNamespace(success=True, path=str(self.work_dir))

    def get_runcmd(self, memlim: int = 1024) -> list[str]:
        return list(self.argv)


class _Diagnostics:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: str, additional_info: str | None = None) -> None:
        self.errors.append(msg)

    def debug(self, msg: str) -> None:
        pass


def problemtools_verdict(tmp_path: Path, judge: str, submission: str) -> str:
    tmp_path.mkdir()
    (tmp_path / "judge.py").write_text(judge)
    (tmp_path / "main.py").write_text(submission)
    (tmp_path / "1.in").write_text(f"{SECRET}\n")
    (tmp_path / "1.ans").write_text("")
    execution = tmp_path / "run"
    (execution / "feedback").mkdir(parents=True)
    metadata = SimpleNamespace(
        limits=SimpleNamespace(validation_memory=1024, memory=1024),
        is_custom_score_allowed=lambda: False,
        is_custom_score_mandatory=lambda: False,
        is_multi_pass=lambda: False,
    )
    diagnostics = _Diagnostics()
    result = execute._run_interactive(
        tmp_path / "1.in",
        SimpleNamespace(ansfile=tmp_path / "1.ans", output_validator_flags=[]),  # type: ignore[arg-type]
        _Program([sys.executable, str(tmp_path / "main.py")], tmp_path),  # type: ignore[arg-type]
        _Program([sys.executable, str(tmp_path / "judge.py")], tmp_path),  # type: ignore[arg-type]
        metadata,  # type: ignore[arg-type]
        TIME_LIMIT_S,
        execution,
        tmp_path,
        diagnostics,  # type: ignore[arg-type]
    )
    assert not diagnostics.errors or result.verdict == "JE", diagnostics.errors
    verdict: str = result.verdict
    return verdict


@pytest.mark.native
@pytest.mark.parametrize(
    ("judge", "submission", "verdict"),
    [
        (JUDGE_PY, GOOD, "AC"),
        (JUDGE_PY, ALWAYS_ONE, "WA"),
        (JUDGE_PY, SLEEPS, "TLE"),
        (JUDGE_PY, WAITS_FIRST, "TLE"),
        (JUDGE_PY, CRASHES, "RTE"),
        (JUDGE_PY, CLOSES_STDOUT, "WA"),
        (JUDGE_CRASHES, GOOD, "JE"),
        pytest.param(JUDGE_PY, CLOSES_STDOUT_THEN_READS, "WA", marks=EOF_ON_CLOSE),
    ],
    ids=[
        "accepted",
        "wrong",
        "sleeps",
        "both-wait",
        "crashes",
        "closes-stdout",
        "judge-crash",
        "closes-stdout-then-reads",
    ],
)
def test_same_verdict_as_problemtools(
    tmp_path: Path, judge: str, submission: str, verdict: str
) -> None:
    require_backend("native")
    from_problemtools = problemtools_verdict(tmp_path / "pt", judge, submission)
    assert from_problemtools == verdict  # what problemtools says (the scenario is right)
    package = write_package(
        tmp_path / "package",
        '\n[[tests]]\nname = "case"\nkind = "interactive"\njudge = "judge/judge.py"\n'
        'input_file = "data/1.in"\nanswer_file = "data/1.ans"\n',
    )
    (package / "judge" / "judge.py").write_text(judge)
    manifest = package / "assignment.toml"
    limits = "cpu_time_s = 2\nwall_time_s = 2\n"
    assert limits in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(limits, "cpu_time_s = 0.5\nwall_time_s = 1\n"))
    graded = ReportStatus.ERROR if verdict == "JE" else ReportStatus.GRADED
    ours = outcomes("native", package, submission, status=graded)["case"]
    assert ours.status is VERDICTS[from_problemtools], ours
