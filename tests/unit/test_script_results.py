"""The script kind's results parsers: TAP and JSON, read as untrusted input."""

from __future__ import annotations

import json

import pytest

from assay.grading.kinds.script_results import (
    MAX_RESULTS_BYTES,
    MAX_TESTS,
    parse_json_results,
    parse_tap,
)
from assay.grading.results_json import ResultsError


def tap(text: str) -> bytes:
    return "\n".join(line.strip() for line in text.strip().splitlines()).encode()


# -- TAP --------------------------------------------------------------------------------
def test_tap_plan_counts_missing_and_skipped_as_failed() -> None:
    results = parse_tap(
        tap("""
        TAP version 13
        1..5
        ok 1 - adds
        not ok 2 - subtracts
        ok 3 - multiplies # SKIP no time
        # a comment
        ok 4 divides
        """)
    )
    assert results.fraction == 2 / 5
    assert [(i.name, i.passed) for i in results.items] == [
        ("adds", True),
        ("subtracts", False),
        ("multiplies", False),
        ("divides", True),
        ("test 5", False),
    ]
    assert results.items[2].message == "skipped: no time"
    assert results.items[4].message == "missing from the TAP output"
    assert not results.complete


def test_tap_plan_at_the_end_and_unnumbered_tests() -> None:
    results = parse_tap(b"ok - a\nok - b\nok\n1..3\n")
    assert results.fraction == 1.0 and results.complete
    assert [i.name for i in results.items] == ["a", "b", "test 3"]


def test_tap_without_plan_uses_the_highest_number() -> None:
    results = parse_tap(b"ok 1\nnot ok 3 - late\n")
    assert len(results.items) == 3 and results.fraction == 1 / 3


def test_tap_todo_counts_as_reported_and_duplicates_fail() -> None:
    results = parse_tap(b"1..3\nok 1 # TODO later\nnot ok 2 # todo\nok 3\nnot ok 3\n")
    assert [i.passed for i in results.items] == [True, False, False]


def test_tap_bail_out_leaves_the_rest_missing() -> None:
    results = parse_tap(b"1..3\nok 1\nBail out! database down\nok 2\nok 3\n")
    assert results.fraction == 1 / 3
    assert "bailed out: database down" in results.message


def test_tap_ignores_subtests_and_tests_outside_the_plan() -> None:
    results = parse_tap(b"1..1\n    ok 1 - indented subtest\n    not ok 2\nok 1\nok 7\n")
    assert results.fraction == 1.0
    assert "outside the plan 1..1: [7]" in results.message


def test_tap_okay_is_not_ok() -> None:
    with pytest.raises(ResultsError, match="reports no tests"):
        parse_tap(b"okay 1\nnothing here\n")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"1..0\n", "reports no tests"),
        (b"1..99999999\nok 1\n", "more than"),
        (b"ok 1\n" * (MAX_RESULTS_BYTES // 5 + 1), "larger than"),
    ],
)
def test_tap_garbage_is_a_results_error(data: bytes, match: str) -> None:
    with pytest.raises(ResultsError, match=match):
        parse_tap(data)


def test_tap_too_many_tests() -> None:
    data = b"".join(b"ok %d\n" % i for i in range(1, MAX_TESTS + 2))
    with pytest.raises(ResultsError, match="more than"):
        parse_tap(data)


# -- JSON -------------------------------------------------------------------------------
def test_json_tests_form() -> None:
    data = json.dumps(
        {
            "tests": [
                {"name": "a", "passed": True},
                {"name": "b", "passed": False, "message": "off by one"},
                {"name": "c", "passed": True},
                {"name": "d", "passed": True},
            ]
        }
    ).encode()
    results = parse_json_results(data)
    assert results.fraction == 0.75
    summary = results.summary()
    assert "3 of 4 checks passed" in summary and "failed: b: off by one" in summary


@pytest.mark.parametrize(
    ("score", "max_score", "fraction"),
    [(3, 4, 0.75), (5, 4, 1.0), (-1, 4, 0.0), (0, 1, 0.0), (2.5, 10, 0.25)],
)
def test_json_score_form_is_clamped(score: float, max_score: float, fraction: float) -> None:
    data = json.dumps({"score": score, "max_score": max_score}).encode()
    assert parse_json_results(data).fraction == fraction


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"score": NaN, "max_score": 1}', "not valid JSON"),
        (b'{"score": 1, "max_score": 0}', "max_score"),
        (b'{"score": 1}', "max_score"),
        (b'{"tests": []}', "tests"),
        (b'{"tests": [{"name": "a", "passed": "yes"}]}', "passed"),
        (b'{"tests": [{"name": "a", "passed": true, "points": 3}]}', "points"),
        (b'{"score": 1, "max_score": 2, "bonus": 1}', "bonus"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"", "empty"),
    ],
)
def test_json_garbage_is_a_results_error(data: bytes, match: str) -> None:
    with pytest.raises(ResultsError, match=match):
        parse_json_results(data)


def test_json_long_text_is_clipped() -> None:
    data = json.dumps({"tests": [{"name": "n" * 5000, "passed": False, "message": "m" * 5000}]})
    item = parse_json_results(data.encode()).items[0]
    assert len(item.name) < 600 and len(item.message) < 600


def test_json_size_cap() -> None:
    data = json.dumps({"score": 1, "max_score": 1, "message": "x" * MAX_RESULTS_BYTES}).encode()
    with pytest.raises(ResultsError, match="larger than"):
        parse_json_results(data)
