"""Packages that declare their own environment grade on both backends (issue 15).

``examples/assignments/c-clang`` builds with clang on a bookworm tree that has
only clang and make; ``examples/assignments/python-numpy`` imports numpy from a
venv in its tree (installed once at build time, never copied into a sandbox).
The trees are built once per machine (about a minute each, cached in the store).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.report import ReportStatus
from assay.grading.submission import load_submission
from assay.sandbox import Sandbox
from assay.sandbox.backends import get_backend
from helpers import describe, require_backend

pytestmark = [pytest.mark.slow, pytest.mark.envbuild]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "assignments"
CASES = [
    ("c-clang", "solution", 3.0),
    ("c-clang", "bad/wrong-answer", 2.0),
    ("c-clang", "bad/gcc-only", 0.0),
    ("python-numpy", "solution", 5.0),
    ("python-numpy", "bad/wrong-answer", 2.0),
    ("python-numpy", "bad/no-numpy-needed", 2.0),
]


@pytest.mark.parametrize(("example", "submission", "score"), CASES)
def test_a_package_in_its_own_environment_grades_exactly(
    backend_name: str, example: str, submission: str, score: float
) -> None:
    with load_package(EXAMPLES / example) as package:
        assert not package.environment.builtin
        require_backend(backend_name)
        report = grade(
            package,
            load_submission(EXAMPLES / example / submission),
            backend=get_backend(backend_name),
        )
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert report.score == pytest.approx(score), [
        (t.name, t.status.value, t.message) for t in report.tests
    ]
    assert report.environment == example


def test_the_clang_package_builds_with_its_trees_clang_and_no_gcc(backend_name: str) -> None:
    with load_package(EXAMPLES / "c-clang") as package:
        environment = package.environment
    require_backend(backend_name)
    with Sandbox(environment, backend=backend_name) as box:
        result = box.run(["sh", "-c", "command -v clang && ! command -v gcc-12 && clang --version"])
    assert result.ok, describe(result)
    assert b"Debian clang version 14" in result.stdout, describe(result)


def test_numpy_comes_from_the_tree_not_the_workspace(backend_name: str) -> None:
    with load_package(EXAMPLES / "python-numpy") as package:
        environment = package.environment
        shipped = list(package.root.rglob("*"))
    # the package carries no numpy: no module directory, wheel or extension of it
    assert not [p for p in shipped if p.name == "numpy" or p.suffix in (".whl", ".so", ".pyd")]
    require_backend(backend_name)
    with Sandbox(environment, backend=backend_name) as box:
        result = box.run(
            [
                "python3",
                "-c",
                "import numpy, os; print(numpy.__version__, numpy.__file__); "
                "print(sorted(os.listdir('/work')))",
            ]
        )
    assert result.ok, describe(result)
    version, path = result.stdout.decode().splitlines()[0].split()
    assert version == "1.26.4"
    assert path.startswith("/opt/assay/venv/"), path
    assert result.stdout.decode().splitlines()[1] == "[]"  # nothing was copied in
