"""``assignment init`` templates and ``check_package``'s verdicts (grading itself faked)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assay.errors import ConfigError
from assay.grading import checking
from assay.grading.checking import check_package
from assay.grading.loader import load_package
from assay.grading.outcome import BuildStatus, TestOutcome, TestStatus
from assay.grading.report import BuildReport, GradeReport, ReportStatus
from assay.grading.scaffold import LANGUAGES, scaffold_package
from assay.grading.spec import Visibility
from assay.sandbox.backends import get_backend


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_each_language_scaffolds_a_valid_package(tmp_path: Path, language: str) -> None:
    path = scaffold_package(f"sum-{language}", language, tmp_path)
    with load_package(path) as package:
        assert package.spec.assignment.name == f"sum-{language}"
        assert package.environment.name == LANGUAGES[language]
        assert package.max_score == 4
        assert [t.visibility for t in package.spec.tests][-1] is Visibility.HIDDEN
        assert [(b.path, b.score) for b in package.spec.known_bad] == [("bad/wrong-answer", 0)]
    assert sorted(p.name for p in (path / "tests").iterdir()) == [
        "1.ans",
        "1.in",
        "2.ans",
        "2.in",
        "3.ans",
        "3.in",
    ]
    assert [p.name for p in tmp_path.iterdir()] == [f"sum-{language}"]  # no staging left


def test_title_is_escaped_in_toml_and_kept_in_markdown(tmp_path: Path) -> None:
    title = 'Say "hi" \\ 日本'
    path = scaffold_package("quoted", "python", tmp_path, title=title)
    manifest = tomllib.loads((path / "assignment.toml").read_text())
    assert manifest["assignment"]["title"] == title
    assert (path / "statement.md").read_text().startswith(f"# {title}\n")


@pytest.mark.parametrize(
    ("name", "language", "title", "message"),
    [
        ("Upper", "python", "t", "not a valid assignment name"),
        ("../up", "python", "t", "not a valid assignment name"),
        ("ok", "rust", "t", "unknown language"),
        ("ok", "python", "line\nbreak", "control characters"),
    ],
)
def test_bad_arguments_are_config_errors(
    tmp_path: Path, name: str, language: str, title: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        scaffold_package(name, language, tmp_path, title=title)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists"):
        scaffold_package("taken", "c", tmp_path)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


# --- check_package with canned reports ----------------------------------------------------------


def report(
    score: float, status: ReportStatus = ReportStatus.GRADED, **extra: object
) -> GradeReport:
    test = TestOutcome(
        name="sample",
        status=TestStatus.PASSED if score == 4 else TestStatus.FAILED,
        score=score,
        max_score=4,
        visibility=Visibility.VISIBLE,
    )
    return GradeReport.model_validate(
        {
            "assignment": "sum",
            "status": status,
            "score": score,
            "max_score": 4,
            "build": BuildReport(status=BuildStatus.PASSED),
            "tests": [test],
            **extra,
        }
    )


def run_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scores: dict[str, GradeReport]):
    path = tmp_path / "sum"
    if not path.exists():
        scaffold_package("sum", "python", tmp_path)

    def fake_grade(package: object, submission: object, **kwargs: object) -> GradeReport:
        text = submission.as_mapping()["main.py"].decode()  # type: ignore[attr-defined]
        return scores["bad" if "a - b" in text else "solution"]

    monkeypatch.setattr(checking, "grade", fake_grade)
    with load_package(path) as package:
        return check_package(package, get_backend("native"))


def test_check_passes_when_expectations_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_check(tmp_path, monkeypatch, {"solution": report(4), "bad": report(0)})
    assert result.ok
    assert [(e.label, e.expectation) for e in result.entries] == [
        ("solution", "full marks"),
        ("bad/wrong-answer", "exactly 0"),
    ]


@pytest.mark.parametrize(
    ("solution", "bad", "reason"),
    [
        (
            report(3),
            report(0),
            "solution: the reference solution got 3 / 4; lost points on: sample (failed)",
        ),
        (report(4), report(4), "bad/wrong-answer: a known-bad submission got full marks (4 / 4)"),
        (report(4), report(1), "bad/wrong-answer: expected exactly 0, got 1 / 4"),
        (
            report(4, ReportStatus.ERROR, staff_error="SandboxError: boom"),
            report(0),
            "solution: grading failed: SandboxError: boom",
        ),
        (
            report(0, ReportStatus.ERROR, staff_error="SandboxError: boom"),
            report(0),
            "solution: grading failed: SandboxError: boom",
        ),
    ],
)
def test_check_reasons(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    solution: GradeReport,
    bad: GradeReport,
    reason: str,
) -> None:
    result = run_check(tmp_path, monkeypatch, {"solution": solution, "bad": bad})
    assert not result.ok
    assert result.reasons == [reason]


def test_missing_known_bad_directory_is_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scaffold_package("sum", "python", tmp_path)
    for file in (tmp_path / "sum/bad/wrong-answer").iterdir():
        file.unlink()
    result = run_check(tmp_path, monkeypatch, {"solution": report(4), "bad": report(0)})
    assert not result.ok
    assert result.reasons[0].startswith("bad/wrong-answer: cannot load:")
