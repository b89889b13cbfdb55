"""Grading throughput: ``python-io`` (10 io tests) graded over and over.

Prints submissions per second for ``assay.grading.engine.grade`` on a
backend (native by default) and the ratio of its time per submission to
running the same 10 programs bare (no sandbox, no checking) on the host, both
measured in this run, interleaved round by round, because these machines are
noisy. The goal is a ratio of at most 1.5.

    .venv/bin/python bench/grade_throughput.py --rounds 30
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.package import AssignmentPackage
from assay.grading.report import ReportStatus
from assay.grading.submission import load_submission
from assay.sandbox.backends import get_backend

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "assignments" / "python-io"


def bare_programs(package: AssignmentPackage, workdir: Path) -> list[tuple[list[str], bytes]]:
    """The io tests' commands and inputs, to run without a sandbox in ``workdir``."""
    runs = []
    for test in package.spec.tests:
        options = package.options[test.name]
        command = list(getattr(options, "command", None) or package.spec.run.command or ())
        command += list(getattr(options, "args", ()))
        stdin = (getattr(options, "stdin", None) or "").encode()
        stdin_file = getattr(options, "stdin_file", None)
        if stdin_file:
            stdin = package.path(stdin_file).read_bytes()
        for dest, source in getattr(options, "input_files", {}).items():
            target = workdir / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package.path(source), target)
        runs.append((command, stdin))
    return runs


def run_bare(runs: list[tuple[list[str], bytes]], workdir: Path) -> float:
    started = time.perf_counter()
    for argv, stdin in runs:
        subprocess.run(
            argv, input=stdin, cwd=workdir, capture_output=True, check=False, env=BARE_ENV
        )
    return time.perf_counter() - started


BARE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def run_graded(package: AssignmentPackage, submission: FileSet, backend: str) -> float:
    started = time.perf_counter()
    report = grade(package, submission, backend=get_backend(backend))
    elapsed = time.perf_counter() - started
    if report.status is not ReportStatus.GRADED or not report.full_marks:
        sys.exit(f"the reference solution did not get full marks: {report.to_json()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--backend", default="native")
    parser.add_argument("--package", type=Path, default=EXAMPLE)
    args = parser.parse_args()

    package = load_package(args.package)
    submission = load_submission(args.package / package.spec.paths.solution)
    tests = len(package.spec.tests)
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        workdir = Path(tmp)
        for item in submission.files:
            path = workdir / item.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
        runs = bare_programs(package, workdir)
        # Warm up both paths (slot pool, launcher compile, page cache).
        run_bare(runs, workdir)
        run_graded(package, submission, args.backend)
        bare, graded = [], []
        for _ in range(args.rounds):
            bare.append(run_bare(runs, workdir))
            graded.append(run_graded(package, submission, args.backend))
    package.close()

    bare_p50, graded_p50 = statistics.median(bare), statistics.median(graded)
    print(f"package: {package.spec.assignment.name} ({tests} tests), backend: {args.backend}")
    print(f"rounds: {args.rounds} (interleaved)")
    print(
        f"bare   : p50 {bare_p50 * 1000:7.1f} ms per submission ({1 / bare_p50:5.2f} submissions/s)"
    )
    print(
        f"graded : p50 {graded_p50 * 1000:7.1f} ms per submission "
        f"({1 / graded_p50:5.2f} submissions/s)"
    )
    print(f"ratio graded/bare (p50): {graded_p50 / bare_p50:.2f} (goal <= 1.5)")
    print(f"ratio graded/bare (mean): {statistics.mean(graded) / statistics.mean(bare):.2f}")


if __name__ == "__main__":
    main()
