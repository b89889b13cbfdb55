"""Reading Gradescope's decorators from a spec's source, weights, and pytest-style selection."""

from __future__ import annotations

import pytest

from assay.grading.gradescope.mapping import visibility
from assay.grading.gradescope.results import GsVisibility
from assay.grading.kinds.pyspec_meta import (
    MetaError,
    TestMeta,
    compile_expression,
    number_key,
    read_meta,
    shares,
    with_tables,
)
from assay.grading.spec import Visibility
from assay.grading.tamper import SpecMode, find_tests

SPEC = """
import gradescope_utils.autograder_utils.decorators as gs
from gradescope_utils.autograder_utils import decorators
from gradescope_utils.autograder_utils.decorators import weight as w, partial_credit
import pytest


@w(2.5)
@gs.visibility("after_published")
def test_a():
    pass


@decorators.number(3)
@partial_credit(4)
@decorators.hide_errors()
@pytest.mark.slow
def test_b(set_score=None):
    pass


@pytest.mark.parametrize("x", [1])
class TestC:
    @decorators.tags("t1", "t2")
    def test_c(self):
        pass
"""


def _meta(source: str = SPEC) -> dict[str, TestMeta]:
    return read_meta(source, find_tests(source, SpecMode.PYTEST), "spec.py")


def test_decorators_are_read_under_every_import_form() -> None:
    meta = _meta()
    assert meta["test_a"] == TestMeta(weight=2.5, visibility=GsVisibility.AFTER_PUBLISHED)
    assert meta["test_b"] == TestMeta(
        weight=4.0, number="3", partial=True, hide_errors="Test failed", marks=frozenset({"slow"})
    )
    assert meta["TestC.test_c"].tags == ("t1", "t2")
    assert meta["TestC.test_c"].marks == {"parametrize"}


def test_gradescope_visibilities_map_as_the_gradescope_kind_maps_them() -> None:
    assert visibility(Visibility.VISIBLE, GsVisibility.AFTER_PUBLISHED) is Visibility.HIDDEN
    assert visibility(Visibility.VISIBLE, GsVisibility.AFTER_DUE_DATE) is Visibility.AFTER_DUE
    assert visibility(Visibility.HIDDEN, GsVisibility.VISIBLE) is Visibility.HIDDEN


@pytest.mark.parametrize(
    ("decorator", "words"),
    [
        ("@w(N)", "literal"),
        ("@w(True)", "must be a number"),
        ("@w(float('nan'))", "literal"),
        ("@w(1e9)", "between 0"),
        ("@gs.visibility('later')", "unknown visibility"),
        ("@gs.number('')", "short text"),
        ("@gs.weight", "not called"),
        ("@gs.frobnicate(1)", "not one of"),
    ],
)
def test_bad_decorators_are_refused_with_their_line(decorator: str, words: str) -> None:
    source = SPEC + f"\n\n{decorator}\ndef test_bad():\n    pass\n"
    with pytest.raises(MetaError, match=words) as caught:
        _meta(source)
    assert caught.value.line == SPEC.count("\n") + 3


def test_tables_override_decorators_and_name_real_tests() -> None:
    tests = find_tests(SPEC, SpecMode.PYTEST)
    meta = with_tables(
        _meta(), tests, weights={"test_a": 1}, visibilities={"test_c": "hidden"}, numbers={}
    )
    assert meta["test_a"].weight == 1.0
    assert meta["TestC.test_c"].visibility is GsVisibility.HIDDEN
    with pytest.raises(MetaError, match="no test function 'test_z'"):
        with_tables(_meta(), tests, weights={"test_z": 1}, visibilities={}, numbers={})


def test_shares_follow_weights_else_split_equally() -> None:
    tests = find_tests(SPEC, SpecMode.PYTEST)
    assert shares(9, tests, _meta()) == {
        "test_a": 9 * 2.5 / 6.5,
        "test_b": 9 * 4 / 6.5,
        "TestC.test_c": 0.0,
    }
    plain = {t.qualname: TestMeta() for t in tests}
    assert shares(9, tests, plain) == {t.qualname: 3.0 for t in tests}
    with pytest.raises(MetaError, match="add up to 0"):
        shares(9, tests, {t.qualname: TestMeta(weight=0) for t in tests})


def test_numbers_order_as_versions() -> None:
    numbers = ["2", None, "1.10", "1.2", "1"]
    assert sorted(numbers, key=number_key) == ["1", "1.2", "1.10", "2", None]


@pytest.mark.parametrize(
    ("expression", "names", "expected"),
    [
        ("add", {"add"}, True),
        ("not add", {"add"}, False),
        ("a and (b or c)", {"a", "c"}, True),
        ("a and not (b or c)", {"a", "c"}, False),
        ("not not a", {"a"}, True),
    ],
)
def test_keyword_expressions(expression: str, names: set[str], expected: bool) -> None:
    assert compile_expression(expression, "keyword")(lambda word: word in names) is expected


@pytest.mark.parametrize("expression", ["", "a and", "(a", "a b", "a )", "a; import os"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(MetaError):
        compile_expression(expression, "keyword")
