"""Gradescope autograders, unchanged: the three of examples/gradescope imported with one
command each, and graded the way their own run_autograder grades on Gradescope's layout.

For each autograder, ``assay assignment import-gradescope`` builds its environment (its
setup.sh), grades the correct submission and checks the package (the correct one at full
marks, the two wrong ones below). Then each submission is graded twice: by ``assay
grade`` (the ``gradescope`` kind in the native sandbox), and by running the built
``run_autograder`` directly in a Gradescope layout (a plain ``/autograder`` with
``source``, ``submission`` and ``results``, as root, in the environment's tree, with
bubblewrap and nothing of Assay's), where the score is Gradescope's: the top-level
``score``, else the sum of the tests'. Both must equal the table in docs/gradescope.md.

Building the three environments takes about a minute each the first time (then they are
in the store); the module needs root, mmdebstrap, bubblewrap, the Debian mirror.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.envbuild, pytest.mark.native]

ASSAY = Path(sys.executable).with_name("assay")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gradescope"
EXPECTED = {  # autograder -> submission -> score (docs/gradescope.md)
    "python-unittest": {"correct": 10.0, "wrong1": 7.0, "wrong2": 6.0},
    "java-junit": {"correct": 10.0, "wrong1": 6.0, "wrong2": 0.0},
    "diff-shell": {"correct": 10.0, "wrong1": 2.0, "wrong2": 6.0},
}


def _assay(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ASSAY), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each autograder imported (and checked) with one command."""
    dest = tmp_path_factory.mktemp("gradescope")
    packages = {}
    for name in EXPECTED:
        subs = EXAMPLES / name / "submissions"
        done = _assay(
            "assignment", "import-gradescope", str(EXAMPLES / name / "autograder"),
            "--dest", str(dest), "--name", name, "--solution", str(subs / "correct"),
            "--bad", str(subs / "wrong1"), "--bad", str(subs / "wrong2"),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "check passed" in done.stdout
        packages[name] = dest / name
    return packages


def _rootfs(package: Path) -> Path:
    done = _assay("env", "build", str(package))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("rootfs: "))
    return Path(line.removeprefix("rootfs: "))


def gradescope_layout_score(rootfs: Path, submission: Path, work: Path) -> float:
    """Run the built run_autograder as Gradescope does and total its results.json."""
    built = rootfs / "opt/assay/gradescope"
    shutil.copytree(built / "source", work / "source", symlinks=True)
    shutil.copy2(built / "run_autograder", work / "run_autograder")
    shutil.copytree(submission, work / "submission")
    (work / "results").mkdir()
    # /autograder leads to /work in the tree: a real directory is bound there
    argv = [
        "bwrap", "--ro-bind", str(rootfs), "/", "--bind", str(work), "/work",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--unshare-pid", "--unshare-net", "--die-with-parent",
        "--chdir", "/autograder", "/autograder/run_autograder",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    results = json.loads((work / "results" / "results.json").read_text())
    assert isinstance(results, dict), done.stdout + done.stderr
    if "score" in results:
        return float(results["score"])
    return float(sum(t.get("score", 0) for t in results["tests"]))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_assay_scores_equal_run_autograder_on_gradescope_layout(
    imported: dict[str, Path], name: str, tmp_path: Path
) -> None:
    rootfs = _rootfs(imported[name])
    for submission, expected in EXPECTED[name].items():
        path = EXAMPLES / name / "submissions" / submission
        work = tmp_path / submission
        work.mkdir()
        on_gradescope = gradescope_layout_score(rootfs, path, work)
        done = _assay("grade", str(imported[name]), str(path), "--json")
        report = json.loads(done.stdout)
        assert report["status"] == "graded", report
        assert not report["tampered"], report
        assert (on_gradescope, report["score"]) == (expected, expected), submission


def test_the_import_records_points_and_the_reference_tests(imported: dict[str, Path]) -> None:
    manifest = (imported["java-junit"] / "assignment.toml").read_text()
    assert "points = 10.0" in manifest
    assert '{ name = "5 grows past 1000 elements", max_score = 2.0 }' in manifest
    assert sorted(p.name for p in (imported["java-junit"] / "bad").iterdir()) == [
        "1-wrong1",
        "2-wrong2",
    ]


FORGER = """\
import json, os
tests = [{"name": "everything", "score": 10, "max_score": 10}]
with open("/autograder/results/results.json", "w") as out:
    json.dump({"tests": tests}, out)
os._exit(0)
"""


def test_a_submission_that_writes_results_json_itself_is_flagged(
    imported: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "calc.py").write_text(FORGER)
    done = _assay("grade", str(imported["python-unittest"]), str(tmp_path / "calc.py"), "--json")
    report = json.loads(done.stdout)
    assert report["score"] == 10  # what Gradescope would record: the harness shares the sandbox
    assert report["tampered"]
    summary = report["tests"][0]
    assert "not a test the reference run listed" in summary["staff_detail"]
