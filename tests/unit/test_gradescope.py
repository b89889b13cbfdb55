"""Gradescope autograders: results.json as untrusted input, its mapping to rows, the
signs of a forged file, the kind on a scripted sandbox, and reading an autograder."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assay.cli.assignment import app as assignment_app
from assay.errors import PackageError
from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.gradescope.layout import PREPARE, RESULTS_FILE, RUN_AUTOGRADER
from assay.grading.gradescope.mapping import ExpectedTest, labels, outcomes, suspicions
from assay.grading.gradescope.results import (
    MAX_RESULTS_BYTES,
    GsResults,
    parse_results,
)
from assay.grading.gradescope_import import import_gradescope, read_autograder
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import ReportStatus
from assay.grading.results_json import ResultsError
from assay.grading.spec import TestSpec, Visibility
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import RunSpec

ENTRY = TestSpec(name="autograder", kind="gradescope", points=10)


def results(**fields: Any) -> GsResults:
    return parse_results(json.dumps(fields).encode())


def three_tests(*scores: float) -> list[dict[str, Any]]:
    return [
        {"name": f"t{i}", "score": s, "max_score": 2 if i < 3 else 6}
        for i, s in enumerate(scores, 1)
    ]


# -- parsing -------------------------------------------------------------------------------
def test_the_documented_example_parses_and_totals_like_gradescope() -> None:
    parsed = results(
        execution_time=136,
        output="Text relevant to the entire submission",
        output_format="simple_format",
        visibility="after_due_date",
        stdout_visibility="visible",
        extra_data={"x": 1},
        tests=[
            {
                "score": 2.0,
                "max_score": 2.0,
                "status": "passed",
                "name": "a",
                "number": "1.1",
                "output": "long",
                "output_format": "text",
                "tags": ["t1"],
                "visibility": "visible",
                "name_format": "text",
                "extra_data": {},
            },
            {"score": 1, "max_score": 3, "number": 2},
        ],
        leaderboard=[
            {"name": "Accuracy", "value": 0.926},
            {"name": "Stars", "value": "***"},
            {"name": "Time", "value": 15.1, "order": "asc"},
        ],
        test_output_format="md",  # documented keys Assay does not use are accepted
    )
    assert parsed.total() == 3.0
    assert parsed.tests[1].number == "2"
    assert results(score=44.0, tests=three_tests(2, 2, 6)).total() == 44.0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"{nope", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"score": NaN}', "not valid JSON"),
        (b'{"score": Infinity}', "not valid JSON"),
        (b'{"score": "full"}', "score"),
        (b'{"tests": [{"status": "great"}]}', "tests.0.status"),
        (b'{"tests": [{"visibility": "public"}]}', "tests.0.visibility"),
        (b'{"output": "no score and no tests"}', "neither a score nor tests"),
        (b'{"tests": [{"number": true}]}', "tests.0.number"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_results_are_refused_with_a_reason(data: bytes, problem: str) -> None:
    with pytest.raises(ResultsError, match=problem):
        parse_results(data)


def test_results_are_capped_at_one_mib() -> None:
    padded = json.dumps({"score": 1, "output": "x" * MAX_RESULTS_BYTES}).encode()
    with pytest.raises(ResultsError, match=f"larger than {MAX_RESULTS_BYTES} bytes"):
        parse_results(padded)


def test_too_many_tests_are_refused() -> None:
    with pytest.raises(ResultsError, match="tests"):
        results(tests=[{"score": 0}] * 2001)


# -- mapping -------------------------------------------------------------------------------
def test_rows_carry_gradescope_scores_and_the_sum_is_its_total() -> None:
    rows = outcomes(results(tests=three_tests(2, 0, 4.5)), ENTRY, run_output=b"hi")
    assert [r.name for r in rows] == [
        "autograder",
        "autograder :: t1",
        "autograder :: t2",
        "autograder :: t3",
    ]
    assert [(r.score, r.max_score, r.status) for r in rows] == [
        (0.0, 0.0, TestStatus.FAILED),  # the summary: not every test passed
        (2, 2, TestStatus.PASSED),
        (0, 2, TestStatus.FAILED),
        (4.5, 6, TestStatus.FAILED),
    ]
    assert sum(r.score for r in rows) == 6.5
    assert rows[0].output == ""  # stdout is staff-only by default
    assert "hi" in (rows[0].staff_detail or "")
    assert not any(r.tampered for r in rows)


def test_status_overrides_the_score_rule_and_informational_tests_count_nothing() -> None:
    parsed = results(
        tests=[
            {"name": "Compilation check", "status": "passed"},
            {"name": "Style", "status": "failed"},
            {"name": "Test 3", "score": 5, "max_score": 10, "status": "passed"},
        ]
    )
    rows = outcomes(parsed, ENTRY)[1:]
    assert [(r.status, r.score, r.max_score) for r in rows] == [
        (TestStatus.PASSED, 0, 0),
        (TestStatus.FAILED, 0, 0),
        (TestStatus.PASSED, 5, 10),
    ]


def test_a_top_level_score_that_overrides_the_tests_is_carried_by_the_summary_row() -> None:
    rows = outcomes(results(score=3, tests=three_tests(2, 2, 6)), ENTRY)
    assert (rows[0].score, rows[0].max_score, rows[0].status) == (3, 10, TestStatus.FAILED)
    assert all(r.score == r.max_score == 0 for r in rows[1:])
    assert "2 / 2 on Gradescope's scale" in rows[1].message
    only_score = outcomes(results(score=10), ENTRY)
    assert [(r.score, r.max_score, r.status) for r in only_score] == [(10, 10, TestStatus.PASSED)]


def test_summary_row_shows_output_time_leaderboard_and_visible_stdout() -> None:
    parsed = results(
        score=1,
        output="well done",
        execution_time=2.5,
        stdout_visibility="visible",
        leaderboard=[{"name": "Time", "value": 1.5, "order": "asc"}],
        extra_data={"secret": 1},
    )
    summary = outcomes(parsed, ENTRY, run_output=b"compiling\n")[0]
    assert summary.message == "well done\nexecution time: 2.5 s\nleaderboard Time: 1.5 (asc)"
    assert summary.output == "compiling\n"
    assert "extra_data keys: secret" in (summary.staff_detail or "")


@pytest.mark.parametrize(
    ("entry", "own", "top", "expected"),
    [
        (Visibility.VISIBLE, None, None, Visibility.VISIBLE),
        (Visibility.VISIBLE, "hidden", None, Visibility.HIDDEN),
        (Visibility.VISIBLE, None, "after_due_date", Visibility.AFTER_DUE),
        (Visibility.VISIBLE, "visible", "hidden", Visibility.VISIBLE),  # a test overrides the top
        (Visibility.VISIBLE, "after_published", None, Visibility.HIDDEN),
        (Visibility.HIDDEN, "visible", None, Visibility.HIDDEN),  # the entry is a floor
    ],
)
def test_visibility(
    entry: Visibility, own: str | None, top: str | None, expected: Visibility
) -> None:
    test: dict[str, Any] = {"score": 1, "max_score": 1, **({"visibility": own} if own else {})}
    parsed = results(tests=[test], **({"visibility": top} if top else {}))
    spec = ENTRY.model_copy(update={"visibility": entry})
    assert outcomes(parsed, spec)[1].visibility is expected


def test_labels_use_numbers_and_stay_unique() -> None:
    parsed = results(tests=[{"name": "a", "number": "1.1"}, {"name": "a  b"}, {}, {"name": "a b"}])
    assert labels(parsed.tests) == ["1.1 a", "a b", "test 3", "a b #2"]


# -- looks forged ----------------------------------------------------------------------------
REFERENCE = [ExpectedTest("t1", 2), ExpectedTest("t2", 2), ExpectedTest("t3", 6)]


def test_an_honest_file_raises_no_suspicion_even_a_compile_failure() -> None:
    assert suspicions(results(tests=three_tests(2, 0, 6)), 10, REFERENCE) == []
    compile_failure = results(score=0, tests=[{"name": "Compilation", "score": 0, "max_score": 10}])
    assert suspicions(compile_failure, 10, REFERENCE) == []
    penalty = results(score=7, tests=three_tests(2, 2, 6))  # a late penalty lowers the total
    assert suspicions(penalty, 10, REFERENCE) == []


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"tests": three_tests(5, 0, 0)}, "'t1': score 5 is above its max_score 2"),
        ({"tests": [{"name": "bonus", "score": 1, "max_score": 1}]}, "not a test the reference"),
        (
            {"tests": [{"name": "t1", "score": 4, "max_score": 4}]},
            "above the reference run's max_score 2",
        ),
        ({"score": 10, "tests": three_tests(0, 0, 0)}, "above the sum of the tests' scores 0"),
        ({"score": 11}, "the score 11 is above the assignment's 10 points"),
    ],
)
def test_forged_looking_files_are_flagged_for_staff(fields: dict[str, Any], why: str) -> None:
    parsed = results(**fields)
    assert any(why in s for s in suspicions(parsed, 10, REFERENCE))
    summary = outcomes(parsed, ENTRY, expected=REFERENCE)[0]
    assert summary.tampered
    assert "results.json looks forged" in (summary.staff_detail or "")


# -- the kind on a scripted sandbox ----------------------------------------------------------
MANIFEST = """\
[assignment]
name = "gs"

[[tests]]
name = "autograder"
kind = "gradescope"
points = 10
expected_tests = [{ name = "t1", max_score = 2 }, { name = "t2", max_score = 2 }]
"""


def gradescope_script(document: bytes | None, termination: Termination = Termination.EXITED) -> Any:
    """A sandbox where PREPARE succeeds and run_autograder writes ``document``."""

    def script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        if list(spec.argv) == ["/bin/sh", "-c", PREPARE]:
            return fake_result()
        assert list(spec.argv) == [RUN_AUTOGRADER]
        if document is not None:
            workspace.add(WorkspaceEntry(RESULTS_FILE, EntryKind.FILE, document))
        return fake_result(b"grading...\n", termination=termination, exit_code=0)

    return script


def grade_with(tmp_path: Path, document: bytes | None, **kwargs: Any) -> Any:
    (tmp_path / "assignment.toml").write_text(MANIFEST)
    with load_package(tmp_path) as package:
        backend = FakeBackend(gradescope_script(document, **kwargs))
        return grade(package, FileSet.from_mapping({"calc.py": "x"}), backend=backend)


def test_the_kind_grades_from_results_json(tmp_path: Path) -> None:
    document = json.dumps(
        {
            "tests": [
                {"name": "t1", "score": 2, "max_score": 2},
                {"name": "t2", "score": 0, "max_score": 2},
            ]
        }
    )
    report = grade_with(tmp_path, document.encode())
    assert report.status is ReportStatus.GRADED
    assert report.score == 2
    assert [t.name for t in report.tests] == ["autograder", "autograder :: t1", "autograder :: t2"]
    assert not report.tampered


def test_a_forged_looking_file_is_graded_and_flagged(tmp_path: Path) -> None:
    document = json.dumps({"score": 10, "tests": [{"name": "everything", "score": 10}]})
    report = grade_with(tmp_path, document.encode())
    assert report.tampered
    assert report.score == 10  # the score Gradescope would give; staff review the flag


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "left no readable /autograder/results/results.json"),
        (b"{", "not valid JSON"),
        (b"x" * (MAX_RESULTS_BYTES + 1), "left no readable"),
    ],
)
def test_missing_or_bad_results_fail_the_entry_without_a_crash(
    tmp_path: Path, document: bytes | None, message: str
) -> None:
    report = grade_with(tmp_path, document)
    assert report.status is ReportStatus.GRADED
    assert report.score == 0
    [row] = report.tests
    assert row.status is TestStatus.FAILED
    assert message in row.message
    assert "grading..." in (row.staff_detail or "")


def test_a_run_autograder_past_its_limit_is_a_timeout(tmp_path: Path) -> None:
    report = grade_with(tmp_path, b'{"score": 10}', termination=Termination.WALL_TIME_LIMIT)
    [row] = report.tests
    assert row.status is TestStatus.TIMEOUT
    assert report.score == 0


def test_the_submission_is_laid_out_then_run_autograder_runs_in_autograder(
    tmp_path: Path,
) -> None:
    (tmp_path / "assignment.toml").write_text(MANIFEST)
    backend = FakeBackend(gradescope_script(b'{"score": 1}'))
    with load_package(tmp_path) as package:
        grade(package, FileSet.from_mapping({"calc.py": "x"}), backend=backend)
    runs = backend.sessions[0].runs
    assert [list(r.argv) for r in runs] == [["/bin/sh", "-c", PREPARE], [RUN_AUTOGRADER]]
    assert runs[1].limits.cpu_time_s == package.limits.cpu_time_s


def test_unknown_kind_options_are_refused(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text(MANIFEST + 'results = "x"\n')
    with pytest.raises(PackageError) as info:
        load_package(tmp_path)
    assert info.value.key == "tests[0].results"


# -- reading an autograder -------------------------------------------------------------------
def write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_an_autograder_zip_needs_setup_and_run_autograder_at_its_top(tmp_path: Path) -> None:
    good = write_zip(tmp_path / "a.zip", {"setup.sh": "", "run_autograder": "", "t/x.py": ""})
    assert {f.path for f in read_autograder(good).files} == {"setup.sh", "run_autograder", "t/x.py"}
    nested = write_zip(tmp_path / "b.zip", {"hw1/setup.sh": "", "hw1/run_autograder": ""})
    with pytest.raises(PackageError) as info:
        read_autograder(nested)
    assert "zip the files, not the folder hw1/" in (info.value.fix or "")
    with pytest.raises(PackageError, match="no run_autograder"):
        read_autograder(write_zip(tmp_path / "c.zip", {"setup.sh": ""}))


def test_an_autograder_zip_cannot_escape_or_hold_links(tmp_path: Path) -> None:
    evil = write_zip(tmp_path / "e.zip", {"setup.sh": "", "run_autograder": "", "../x": ""})
    with pytest.raises(PackageError, match="cannot read the autograder"):
        read_autograder(evil)
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "setup.sh").write_text("")
    (folder / "run_autograder").write_text("")
    (folder / "link").symlink_to("/etc/passwd")
    with pytest.raises(PackageError, match="symbolic link"):
        read_autograder(folder)


# -- writing the package ---------------------------------------------------------------------
def autograder_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "hw1"
    (folder / "tests").mkdir(parents=True)
    (folder / "setup.sh").write_text("apt-get install -y python3\n")
    (folder / "run_autograder").write_text(
        "#!/bin/sh\necho '{\"score\": 1}' > results/results.json\n"
    )
    (folder / "tests" / "data.txt").write_text("x\n")
    return folder


def test_an_import_without_a_reference_writes_a_package_that_loads(tmp_path: Path) -> None:
    done = import_gradescope(autograder_dir(tmp_path), tmp_path / "out", points=5)
    assert (done.path, done.points, done.check) == (tmp_path / "out", 5, None)
    root = done.path
    assert (root / "autograder" / "tests" / "data.txt").read_text() == "x\n"
    assert (root / "autograder" / "run_autograder").stat().st_mode & 0o111
    assert "bash ./setup.sh" in (root / "gradescope-setup.sh").read_text()
    with load_package(root) as package:
        [test] = package.spec.tests
        assert (test.name, test.kind, test.points) == ("autograder", "gradescope", 5)
        environment = package.spec.environment
        assert environment is not None
        assert environment.name == "gradescope-hw1"
        assert environment.setup == "gradescope-setup.sh"
        assert sorted(environment.files) == [
            "/autograder/source/run_autograder",
            "/autograder/source/setup.sh",
            "/autograder/source/tests/data.txt",
        ]
        assert environment.files["/autograder/source/run_autograder"].mode == 0o755


def test_an_import_needs_points_or_a_reference_and_a_free_target(tmp_path: Path) -> None:
    source = autograder_dir(tmp_path)
    with pytest.raises(PackageError, match="points are unknown"):
        import_gradescope(source, tmp_path / "out")
    import_gradescope(source, tmp_path / "out", points=1)
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(PackageError, match="not empty"):
        import_gradescope(source, tmp_path / "out", points=1)
    import_gradescope(source, tmp_path / "out", points=2, force=True)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"  # --force keeps the rest
    assert "points = 2.0" in (tmp_path / "out" / "assignment.toml").read_text()


def test_the_command_writes_the_package_or_exits_2_with_the_fix(tmp_path: Path) -> None:
    runner = CliRunner()
    source = autograder_dir(tmp_path)
    args = ["import-gradescope", str(source), "--dest", str(tmp_path / "out"), "--points", "4"]
    done = runner.invoke(assignment_app, args, terminal_width=200)
    assert done.exit_code == 0, done.output
    assert f"created {tmp_path / 'out' / 'hw1'} (4 points)" in done.output
    assert "next: assay assignment check" in done.output
    (source / "setup.sh").unlink()
    again = runner.invoke(assignment_app, [*args, "--force"], terminal_width=200)
    assert again.exit_code == 2
    assert "no setup.sh at its top" in again.output
