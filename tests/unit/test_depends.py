"""Test dependencies (``depends``): load-time validation, run order, who is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.depends import blocked_by, check_depends, run_order
from assay.grading.loader import load_package
from assay.grading.outcome import TestOutcome, TestStatus
from assay.grading.spec import TestSpec


def spec(name: str, *depends: str) -> TestSpec:
    return TestSpec.model_validate({"name": name, "depends": list(depends)})


def outcome(name: str, status: TestStatus) -> TestOutcome:
    return TestOutcome(name=name, status=status, score=0, max_score=1)


def test_depends_is_a_list_or_one_name() -> None:
    assert TestSpec.model_validate({"name": "a", "depends": "b"}).depends == ("b",)
    assert TestSpec.model_validate({"name": "a", "depends": ["b", "c"]}).depends == ("b", "c")
    assert TestSpec.model_validate({"name": "a"}).depends == ()
    assert "depends" not in TestSpec.model_validate({"name": "a", "depends": "b"}).options


@pytest.mark.parametrize(
    ("tests", "key", "needle"),
    [
        ([spec("a"), spec("b", "nope")], "tests[1].depends", "'nope', which is not a test"),
        ([spec("a", "a")], "tests[0].depends", "depends on itself"),
        ([spec("a", "c"), spec("b", "a"), spec("c", "b")], "tests[0].depends", "cycle"),
        ([spec("x"), spec("a", "b"), spec("b", "a")], "tests[1].depends", "'a' -> 'b' -> 'a'"),
    ],
)
def test_unknown_names_and_cycles_are_package_errors_naming_the_key(
    tests: list[TestSpec], key: str, needle: str
) -> None:
    with pytest.raises(PackageError) as info:
        check_depends(tests)
    assert info.value.key == key
    assert needle in str(info.value)


def test_a_valid_graph_passes_and_keeps_the_manifest_order_where_it_can() -> None:
    tests = [spec("late", "exists"), spec("exists"), spec("a", "exists"), spec("b", "a", "late")]
    check_depends(tests)
    assert [t.name for t in run_order(tests)] == ["exists", "late", "a", "b"]
    assert [t.name for t in run_order([spec("x"), spec("y")])] == ["x", "y"]


def test_blocked_by_names_the_first_dependency_that_did_not_pass() -> None:
    results = {
        "ok": [outcome("ok", TestStatus.PASSED)],
        "bad": [outcome("bad", TestStatus.TIMEOUT)],
        "skipped": [outcome("skipped", TestStatus.SKIPPED)],
        # a kind that yields several outcomes passes only if all of them passed
        "half": [outcome("h1", TestStatus.PASSED), outcome("h2", TestStatus.FAILED)],
    }
    assert blocked_by(spec("t", "ok"), results) is None
    assert blocked_by(spec("t"), results) is None
    assert blocked_by(spec("t", "ok", "bad"), results) == "not run: depends on bad, which failed"
    assert blocked_by(spec("t", "half"), results) == "not run: depends on half, which failed"
    assert (
        blocked_by(spec("t", "skipped"), results)
        == "not run: depends on skipped, which was not run"
    )


def test_the_loader_refuses_an_unknown_dependency(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text(
        '[assignment]\nname = "d"\nenvironment = "python3"\n[run]\ncommand = "python3 m.py"\n'
        '[[tests]]\nname = "first"\nexpected = "x"\n'
        '[[tests]]\nname = "second"\nexpected = "x"\ndepends = ["frist"]\n'
    )
    with pytest.raises(PackageError) as info:
        load_package(tmp_path)
    assert info.value.key == "tests[1].depends"
    assert "'frist'" in str(info.value) and "'first'" in str(info.value)
