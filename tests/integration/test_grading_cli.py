"""``assay grade`` and ``assay assignment``, run as a user runs them (native backend)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import xmlschema

from assay.grading.report import GradeReport
from helpers import require_backend

pytestmark = pytest.mark.native

ASSAY = Path(sys.executable).with_name("assay")
LANGUAGES = ["python", "c", "cpp", "java"]
MAIN = {"python": "main.py", "c": "main.c", "cpp": "main.cpp", "java": "Main.java"}
FIXTURES = Path(__file__).parent.parent / "fixtures"


def assay(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    require_backend("native")
    return subprocess.run(
        [str(ASSAY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


def init(tmp_path: Path, language: str = "python", name: str | None = None) -> Path:
    name = name or f"sum-{language}"
    proc = assay("assignment", "init", name, "--language", language, "--dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / name


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert "Traceback" not in proc.stdout


# --- assignment init / check --------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_init_scaffolds_a_package_that_passes_check(tmp_path: Path, language: str) -> None:
    package = init(tmp_path, language)
    for rel in [
        "assignment.toml",
        "statement.md",
        f"starter/{MAIN[language]}",
        f"solution/{MAIN[language]}",
        f"bad/wrong-answer/{MAIN[language]}",
        "tests/1.in",
        "tests/3.ans",
    ]:
        assert (package / rel).is_file(), rel
    assert not list(package.rglob("*.tmpl"))
    assert f'name = "sum-{language}"' in (package / "assignment.toml").read_text()
    proc = assay("assignment", "check", package)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check passed" in proc.stdout
    assert "bad/wrong-answer" in proc.stdout


def test_init_refuses_an_existing_directory_and_a_bad_name(tmp_path: Path) -> None:
    init(tmp_path, "c", "dup")
    again = assay("assignment", "init", "dup", "-l", "c", "--dir", tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    bad = assay("assignment", "init", "Not A Slug", "-l", "c", "--dir", tmp_path)
    assert bad.returncode == 2
    assert "not a valid assignment name" in bad.stderr
    no_traceback(bad)


def test_check_fails_on_a_wrong_solution_and_a_passing_known_bad(tmp_path: Path) -> None:
    package = init(tmp_path)
    good = (package / "solution/main.py").read_text()
    (package / "solution/main.py").write_text(good.replace("a + b", "a * b"))
    (package / "bad/wrong-answer/main.py").write_text(good)
    proc = assay("assignment", "check", package)
    assert proc.returncode == 1
    assert "the reference solution got 0 / 4" in proc.stderr
    assert "a known-bad submission got full marks (4 / 4)" in proc.stderr
    no_traceback(proc)


def test_check_requires_the_exact_known_bad_score(tmp_path: Path) -> None:
    package = init(tmp_path)
    manifest = package / "assignment.toml"
    manifest.write_text(manifest.read_text().replace("score = 0\n", "score = 1\n"))
    proc = assay("assignment", "check", package)
    assert proc.returncode == 1
    assert "expected exactly 1, got 0 / 4" in proc.stderr


def test_check_of_an_invalid_package_names_the_key(tmp_path: Path) -> None:
    package = init(tmp_path)
    manifest = package / "assignment.toml"
    manifest.write_text(manifest.read_text().replace('kind = "io"', 'kind = "nope"', 1))
    proc = assay("assignment", "check", package)
    assert proc.returncode == 1
    assert "unknown test kind 'nope'" in proc.stderr
    no_traceback(proc)


# --- grade --------------------------------------------------------------------------------------


def test_grade_json_is_a_grade_report_and_nothing_else(tmp_path: Path) -> None:
    package = init(tmp_path, "c")
    proc = assay("grade", package, package / "solution", "--json", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    report = GradeReport.model_validate_json(proc.stdout)
    assert report.status == "graded"
    assert (report.score, report.max_score) == (4, 4)
    assert [t.name for t in report.tests] == ["sample", "negative", "large"]
    assert report.build.status == "passed"
    assert report.tests[2].expected == "3000000000000\n"  # the staff view keeps hidden contents


def test_grade_student_view_hides_the_hidden_test(tmp_path: Path) -> None:
    package = init(tmp_path, "python")
    proc = assay("grade", package, package / "bad/wrong-answer", "--json", "--student-view")
    assert proc.returncode == 0, proc.stderr
    report = GradeReport.model_validate_json(proc.stdout)
    assert report.score == 0
    hidden = report.tests[2]
    assert hidden.visibility == "hidden"
    assert hidden.status == "failed"
    assert (hidden.expected, hidden.actual, hidden.message) == (None, None, "")
    assert "3000000000000" not in proc.stdout
    assert report.tampered is None


def test_grade_table_exports_and_a_zero_score_still_exit_0(tmp_path: Path) -> None:
    package = init(tmp_path, "python")
    gradescope = tmp_path / "results.json"
    junit = tmp_path / "junit.xml"
    proc = assay(
        "grade",
        package,
        package / "bad/wrong-answer",
        "--gradescope",
        gradescope,
        "--junit",
        junit,
    )
    assert proc.returncode == 0, proc.stderr
    assert "failed" in proc.stdout
    assert "score: 0 / 4" in proc.stdout
    results = json.loads(gradescope.read_text())
    assert results["score"] == 0
    assert [t["visibility"] for t in results["tests"]] == ["visible", "visible", "hidden"]
    assert "3000000000000" not in gradescope.read_text()  # the hidden test's answer
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 - our own output
    assert suite is not None
    assert suite.get("failures") == "3"
    schema = xmlschema.XMLSchema10(FIXTURES / "third_party" / "junit-10.xsd")
    assert [str(e.reason) for e in schema.iter_errors(str(junit))] == []


def test_grade_a_zip_submission(tmp_path: Path) -> None:
    package = init(tmp_path, "python")
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(package / "solution/main.py", "main.py")
    proc = assay("grade", package, archive, "--json")
    assert proc.returncode == 0, proc.stderr
    assert GradeReport.model_validate_json(proc.stdout).score == 4


@pytest.mark.parametrize("kind", ["traversal", "symlink"])
def test_unsafe_archive_is_a_clean_usage_error(tmp_path: Path, kind: str) -> None:
    package = init(tmp_path, "python")
    if kind == "traversal":
        archive = tmp_path / "evil.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("../main.py", "print(3)\n")
        expected = "'../main.py' leaves its folder"
    else:
        archive = tmp_path / "evil.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            link = tarfile.TarInfo("main.py")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tf.addfile(link)
        expected = "'main.py' is a link"
    proc = assay("grade", package, archive, "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert expected in proc.stderr
    assert proc.stderr.startswith("error: ")
    no_traceback(proc)
    assert not (tmp_path / "main.py").exists()


def test_missing_package_and_unknown_backend_are_usage_errors(tmp_path: Path) -> None:
    package = init(tmp_path, "python")
    missing = assay("grade", tmp_path / "nope", package / "solution")
    assert missing.returncode == 2
    assert "neither a package directory nor an archive" in missing.stderr
    backend = assay("grade", package, package / "solution", "--backend", "podman")
    assert backend.returncode == 2
    assert "unknown backend 'podman'" in backend.stderr
    no_traceback(backend)


def test_a_broken_checker_makes_an_error_report_and_exit_1(tmp_path: Path) -> None:
    package = init(tmp_path, "python")
    (package / "checkers").mkdir()
    (package / "checkers/check.py").write_text("import sys\nsys.exit(3)\n")
    manifest = package / "assignment.toml"
    checker = 'checker = { type = "custom", program = "checkers/check.py" }\n'
    text = manifest.read_text().replace(
        'expected_file = "tests/1.ans"\n', 'expected_file = "tests/1.ans"\n' + checker, 1
    )
    manifest.write_text(text)
    proc = assay("grade", package, package / "solution", "--json")
    assert proc.returncode == 1, proc.stderr
    report = GradeReport.model_validate_json(proc.stdout)
    assert report.status == "error"
    assert report.tests[0].status == "error"
    table = assay("grade", package, package / "solution")
    assert table.returncode == 1
    assert "error:" in table.stdout
    no_traceback(table)


# --- import-kattis ------------------------------------------------------------------------------


def write_kattis_problem(root: Path) -> Path:
    problem = root / "halve"
    files = {
        "problem.yaml": "name: Halve it\nvalidator_flags: float_tolerance 1e-6\n",
        "problem_statement/problem.en.md": "Print half of n.\n",
        "data/sample/1.in": "3\n",
        "data/sample/1.ans": "1.5\n",
        "data/secret/1.in": "7\n",
        "data/secret/1.ans": "3.5000001\n",  # within the tolerance of 3.5
        "data/secret/2.in": "1\n",
        "data/secret/2.ans": "0.5\n",
        "submissions/accepted/sol.py": "print(int(input()) / 2)\n",
        "submissions/wrong_answer/floor.py": "print(int(input()) // 2)\n",
    }
    for rel, text in files.items():
        (problem / rel).parent.mkdir(parents=True, exist_ok=True)
        (problem / rel).write_text(text)
    return problem


def test_import_kattis_then_check_and_grade(tmp_path: Path) -> None:
    problem = write_kattis_problem(tmp_path)
    dest = tmp_path / "courses"
    dest.mkdir()
    proc = assay("assignment", "import-kattis", problem, "--dest", dest)
    assert proc.returncode == 0, proc.stderr
    package = dest / "halve"
    assert f"created {package}" in proc.stdout
    check = assay("assignment", "check", package)
    assert check.returncode == 0, check.stdout + check.stderr
    graded = assay("grade", package, problem / "submissions/wrong_answer/floor.py", "--json")
    report = GradeReport.model_validate_json(graded.stdout)
    assert (report.score, report.max_score) == (0, 3)  # floors: 1, 3, 0 for 1.5, 3.5, 0.5
    again = assay("assignment", "import-kattis", problem, "--dest", dest)
    assert again.returncode == 2
    assert "not empty" in again.stderr
    forced = assay("assignment", "import-kattis", problem, "--dest", dest, "--force")
    assert forced.returncode == 0, forced.stderr


def test_import_kattis_of_a_non_problem_is_a_usage_error(tmp_path: Path) -> None:
    proc = assay("assignment", "import-kattis", tmp_path, "--dest", tmp_path)
    assert proc.returncode == 2
    assert "no problem.yaml" in proc.stderr
    no_traceback(proc)
