"""The complement transform of spec tests (``assay.grading.tamper``), on the ``ast``."""

from __future__ import annotations

import ast
import random
import re
import sys
import textwrap
import types
import unittest
from collections.abc import Iterator

import pytest

from assay.grading.tamper import (
    FLIPPED_METHODS,
    PlannedTest,
    SpecMode,
    Transformed,
    find_tests,
    transform,
)

U = SpecMode.UNITTEST
P = SpecMode.PYTEST
ID = re.compile(r"^(?:\w+\.)?test_[0-9a-f]{12}$")


def _spec(
    body: str, *, header: str = "import unittest\n\nclass TestX(unittest.TestCase):\n"
) -> str:
    return header + textwrap.indent(textwrap.dedent(body), "    ")


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}


def _pair(result: Transformed, original: str) -> tuple[ast.FunctionDef, ast.FunctionDef | None]:
    functions = _functions(result.source)
    planned = [p for p in result.plan if p.original == original]
    main = next(p for p in planned if not p.complement)
    twin = next((p for p in planned if p.complement), None)
    name = main.id.rpartition(".")[2]
    twin_node = functions[twin.id.rpartition(".")[2]] if twin else None
    return functions[name], twin_node


def _last_statement(node: ast.FunctionDef) -> str:
    return ast.unparse(node.body[-1])


# -- flipping each assertion ------------------------------------------------------------
@pytest.mark.parametrize(("method", "flipped"), sorted(FLIPPED_METHODS.items()))
def test_each_unittest_assertion_flips_to_its_complement(method: str, flipped: str) -> None:
    source = _spec(f"def test_it(self):\n    self.{method}(a, b, msg='why')\n")
    main, twin = _pair(transform(source, U, rng=random.Random(1)), "TestX.test_it")
    assert _last_statement(main) == f"self.{method}(a, b, msg='why')"
    assert twin is not None
    assert _last_statement(twin) == f"self.{flipped}(a, b, msg='why')"


def test_the_pairs_are_the_ones_weblab_uses_and_both_ways() -> None:
    for a, b in [
        ("assertEqual", "assertNotEqual"),
        ("assertTrue", "assertFalse"),
        ("assertIs", "assertIsNot"),
        ("assertIsNone", "assertIsNotNone"),
        ("assertIn", "assertNotIn"),
        ("assertIsInstance", "assertNotIsInstance"),
    ]:
        assert FLIPPED_METHODS[a] == b
        assert FLIPPED_METHODS[b] == a


@pytest.mark.parametrize(
    ("statement", "flipped"),
    [
        ("assert a == b", "assert a != b"),
        ("assert a != b", "assert a == b"),
        ("assert a is None", "assert a is not None"),
        ("assert a is not b", "assert a is b"),
        ("assert a in b", "assert a not in b"),
        ("assert a not in b", "assert a in b"),
        ("assert x", "assert not x"),
        ("assert not x", "assert x"),
        ("assert f(x)", "assert not f(x)"),
        ("assert a < b", "assert not a < b"),
        ("assert a < b < c", "assert not a < b < c"),
        ("assert a == b, 'the message'", "assert a != b, 'the message'"),
        ("assert x == pytest.approx(1.5)", "assert x != pytest.approx(1.5)"),
    ],
)
def test_plain_asserts_flip_and_keep_their_message(statement: str, flipped: str) -> None:
    source = f"import pytest\n\ndef test_it():\n    x = 1\n    {statement}\n"
    main, twin = _pair(transform(source, P, rng=random.Random(2)), "test_it")
    assert _last_statement(main) == statement
    assert twin is not None
    assert _last_statement(twin) == flipped
    assert _last_statement(twin) != statement


def test_plain_asserts_in_unittest_methods_flip_too() -> None:
    source = _spec("def test_it(self):\n    assert f() == 3\n")
    _, twin = _pair(transform(source, U, rng=random.Random(3)), "TestX.test_it")
    assert twin is not None
    assert _last_statement(twin) == "assert f() != 3"


def test_only_the_last_assertion_is_flipped() -> None:
    source = _spec(
        """
        def test_it(self):
            self.assertEqual(f(1), 1)
            value = f(2)
            self.assertTrue(value)
            cleanup()
        """
    )
    main, twin = _pair(transform(source, U, rng=random.Random(4)), "TestX.test_it")
    assert twin is not None
    assert [ast.unparse(s) for s in twin.body] == [
        "self.assertEqual(f(1), 1)",
        "value = f(2)",
        "self.assertFalse(value)",
        "cleanup()",
    ]
    assert ast.unparse(main.body[2]) == "self.assertTrue(value)"


def test_a_last_assertion_inside_with_blocks_is_unconditional() -> None:
    source = _spec(
        """
        def test_it(self):
            with open('data.txt') as file, patch('x'):
                with lock:
                    self.assertEqual(file.read(), 'x')
        """
    )
    _, twin = _pair(transform(source, U, rng=random.Random(5)), "TestX.test_it")
    assert twin is not None
    assert "assertNotEqual(file.read(), 'x')" in ast.unparse(twin)


# -- tests that get no complement ---------------------------------------------------------
NO_COMPLEMENT = {
    "in a for loop": "for i in range(3):\n    self.assertEqual(f(i), i)",
    "in a while loop": "while x:\n    self.assertTrue(x)",
    "in an if": "if x:\n    self.assertEqual(x, 1)",
    "in an else": "if x:\n    pass\nelse:\n    self.assertEqual(x, 1)",
    "in a try": "try:\n    self.assertEqual(x, 1)\nexcept KeyError:\n    pass",
    "in an except": "try:\n    y()\nexcept KeyError:\n    self.assertEqual(x, 1)",
    "in a finally": "try:\n    y()\nfinally:\n    self.assertEqual(x, 1)",
    "in a match": "match x:\n    case 1:\n        self.assertEqual(x, 1)",
    "after a conditional return": "if x is None:\n    return\nself.assertEqual(x, 1)",
    "in assertRaises": "with self.assertRaises(ValueError):\n    self.assertEqual(f(), 1)",
    "assertRaises last": "self.assertEqual(f(), 1)\nwith self.assertRaises(KeyError):\n    f(-1)",
    "unflippable last": "self.assertEqual(f(), 1)\nself.assertGreater(f(), 0)",
    "fail() last": "self.assertEqual(f(), 1)\nself.fail('never')",
    "helper assert last": "self.assertEqual(f(), 1)\nassert_valid(f())",
    "conditional last, plain first": "self.assertEqual(f(), 1)\nif x:\n    self.assertTrue(x)",
    "no assertion": "f()",
}


@pytest.mark.parametrize("case", sorted(NO_COMPLEMENT))
def test_tests_whose_last_assertion_may_not_run_get_no_complement(case: str) -> None:
    source = _spec("def test_it(self):\n" + textwrap.indent(NO_COMPLEMENT[case], "    ") + "\n")
    result = transform(source, U, rng=random.Random(6))
    assert [p.complement for p in result.plan] == [False]
    assert find_tests(source, U)[0].complementable is False


@pytest.mark.parametrize(
    "source",
    [
        _spec("@unittest.expectedFailure\ndef test_it(self):\n    self.assertEqual(f(), 1)\n"),
        _spec("async def test_it(self):\n    self.assertEqual(await f(), 1)\n"),
        _spec("def test_it(self):\n    yield 1\n    self.assertEqual(f(), 1)\n"),
    ],
    ids=["expected-failure", "async", "generator"],
)
def test_tests_that_pass_when_failing_or_never_run_get_no_complement(source: str) -> None:
    assert [p.complement for p in transform(source, U, rng=random.Random(7)).plan] == [False]


def test_pytest_xfail_gets_no_complement() -> None:
    source = "import pytest\n\n@pytest.mark.xfail\ndef test_it():\n    assert f() == 1\n"
    assert [p.complement for p in transform(source, P, rng=random.Random(8)).plan] == [False]


# -- what is kept -------------------------------------------------------------------------
def test_decorators_and_multiline_strings_are_kept_on_both_copies() -> None:
    source = textwrap.dedent(
        '''
        import pytest

        @pytest.mark.parametrize("text,lines", [("""a
        b""", 2), ("c", 1)])
        @pytest.mark.timeout(3)
        def test_lines(text, lines):
            """A docstring
            over two lines."""
            expected = """x
              y"""
            assert len(text.splitlines()) == lines
        '''
    )
    result = transform(source, P, rng=random.Random(9))
    main, twin = _pair(result, "test_lines")
    assert twin is not None
    written = _functions(source)["test_lines"]
    for node in (main, twin):
        assert [ast.unparse(d) for d in node.decorator_list] == [
            "pytest.mark.parametrize('text,lines', [('a\\nb', 2), ('c', 1)])",
            "pytest.mark.timeout(3)",
        ]
        assert ast.get_docstring(node) == "A docstring\nover two lines."
        assert ast.dump(node.body[1]) == ast.dump(written.body[1])  # the string, unchanged
    assert _last_statement(twin) == "assert len(text.splitlines()) != lines"


def test_fixtures_setup_and_helpers_are_left_alone() -> None:
    source = textwrap.dedent(
        """
        import unittest
        import pytest

        @pytest.fixture
        def test_data():
            return 1

        def helper():
            assert True

        class TestX(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                cls.shared = 1

            def setUp(self):
                self.value = 2

            def check(self, x):
                self.assertEqual(x, 1)

            def tearDown(self):
                pass

            def test_it(self):
                self.check(self.value - 1)
                self.assertEqual(self.value, 2)
        """
    )
    for mode in (U, P):
        result = transform(source, mode, rng=random.Random(10))
        functions = _functions(result.source)
        for name in ("test_data", "helper", "setUpClass", "setUp", "check", "tearDown"):
            assert ast.dump(functions[name]) == ast.dump(_functions(source)[name])
        assert [p.original for p in result.plan if not p.complement] == ["TestX.test_it"]


# -- discovery ------------------------------------------------------------------------------
def test_unittest_finds_test_methods_of_testcase_subclasses_and_their_mixins() -> None:
    source = textwrap.dedent(
        """
        import unittest
        from unittest import TestCase

        class Mixin:
            def test_from_mixin(self):
                self.assertTrue(True)

        class Base(unittest.TestCase):
            def test_base(self):
                self.assertTrue(True)

        class Derived(Base):
            def testCamel(self):
                self.assertTrue(True)

        class Direct(Mixin, TestCase):
            def test_direct(self):
                self.assertTrue(True)

        class NotATest:
            def test_ignored(self):
                pass

        def test_module_function():
            assert True
        """
    )
    assert [t.qualname for t in find_tests(source, U)] == [
        "Mixin.test_from_mixin",
        "Base.test_base",
        "Derived.testCamel",
        "Direct.test_direct",
    ]


def test_pytest_finds_functions_and_methods_of_test_classes() -> None:
    source = textwrap.dedent(
        """
        import pytest
        import unittest

        def test_one():
            assert True

        def helper_test():
            assert True

        class TestGroup:
            def test_two(self):
                assert True

            def helper(self):
                pass

        class Cases(unittest.TestCase):
            def test_three(self):
                self.assertTrue(True)

        class Other:
            def test_not_collected(self):
                pass
        """
    )
    assert [t.qualname for t in find_tests(source, P)] == [
        "test_one",
        "TestGroup.test_two",
        "Cases.test_three",
    ]


def test_a_syntax_error_is_raised_with_its_line() -> None:
    with pytest.raises(SyntaxError) as info:
        find_tests("def test_x(:\n    pass\n", P, "tests/test_x.py")
    assert info.value.lineno == 1
    assert info.value.filename == "tests/test_x.py"


# -- names, order, plan -------------------------------------------------------------------------
SPEC = _spec(
    "".join(f"def test_{n}(self):\n    self.assertEqual(f({n}), {n})\n\n" for n in range(6))
    + "def test_loop(self):\n    for i in range(2):\n        self.assertTrue(i >= 0)\n"
)


def test_every_test_is_renamed_and_the_plan_maps_it_back() -> None:
    result = transform(SPEC, U, rng=random.Random(11))
    assert len(result.plan) == 13  # 7 originals, 6 complements
    ids = [p.id for p in result.plan]
    assert len(set(ids)) == len(ids)
    assert all(ID.match(i) for i in ids)
    for n in range(6):
        assert not re.search(rf"\btest_{n}\b", result.source)
        planned = [p for p in result.plan if p.original == f"TestX.test_{n}"]
        assert sorted(p.complement for p in planned) == [False, True]
    assert [p for p in result.plan if p.original == "TestX.test_loop"] == [
        PlannedTest(next(p.id for p in result.plan if p.original == "TestX.test_loop"),
                    "TestX.test_loop", False)
    ]  # fmt: skip
    defined = {n.name for n in _functions(result.source).values()}
    assert {i.rpartition(".")[2] for i in ids} <= defined


def test_order_and_names_change_per_run_and_repeat_with_the_same_seed() -> None:
    first = transform(SPEC, U, rng=random.Random(12))
    again = transform(SPEC, U, rng=random.Random(12))
    other = transform(SPEC, U, rng=random.Random(13))
    assert first == again
    assert [p.original for p in first.plan] != [p.original for p in other.plan]
    assert {p.id for p in first.plan}.isdisjoint({p.id for p in other.plan})


def test_complements_are_not_placed_next_to_their_originals_by_construction() -> None:
    orders = set()
    for seed in range(20):
        result = transform(SPEC, U, rng=random.Random(seed))
        order = [n.name for n in _functions(result.source).values() if n.name.startswith("test_")]
        by_id = {p.id.rpartition(".")[2]: (p.original, p.complement) for p in result.plan}
        orders.add(tuple(by_id[name] for name in order))
    assert len(orders) == 20  # the source order is shuffled too, not just the run order


def test_without_anti_tamper_the_source_is_unchanged_and_names_are_kept() -> None:
    result = transform(SPEC, U, rng=random.Random(14), anti_tamper=False)
    assert result.source == SPEC
    assert [p.id for p in result.plan] == [f"TestX.test_{n}" for n in range(6)] + [
        "TestX.test_loop"
    ]
    assert not any(p.complement for p in result.plan)


# -- the transformed code still runs the same -----------------------------------------------
SOLUTION = """
def square(x):
    return x * x

def evens(n):
    return [i for i in range(n) if i % 2 == 0]
"""

RUNNABLE = textwrap.dedent(
    '''
    import unittest
    from solution_under_test import square, evens

    class Base(unittest.TestCase):
        def setUp(self):
            self.limit = 6

    class TestSquare(Base):
        def test_small(self):
            self.assertEqual(square(3), 9)

        def test_text(self):
            text = """line one
    line two"""
            self.assertIn("two", text)
            self.assertIsInstance(square(2), int)

        def test_negative(self):
            self.assertTrue(square(-2) > 0)

        def test_none(self):
            self.assertIsNotNone(evens(self.limit))

        def test_identity(self):
            self.assertIs(square(1) == 1, True)

        def test_all(self):
            for i in range(3):
                self.assertEqual(square(i), i * i)

        def test_membership(self):
            assert 4 in evens(self.limit)
    '''
)


@pytest.fixture
def solution_module() -> Iterator[None]:
    module = types.ModuleType("solution_under_test")
    exec(compile(SOLUTION, "solution_under_test.py", "exec"), module.__dict__)  # noqa: S102
    sys.modules["solution_under_test"] = module
    yield
    del sys.modules["solution_under_test"]


@pytest.mark.usefixtures("solution_module")
def test_on_a_correct_solution_originals_pass_and_complements_fail_by_assertion() -> None:
    result = transform(RUNNABLE, U, rng=random.Random(15))
    module = types.ModuleType("transformed_spec")
    exec(compile(result.source, "transformed_spec.py", "exec"), module.__dict__)  # noqa: S102
    assert len([p for p in result.plan if p.complement]) == 6  # all but test_all
    for planned in result.plan:
        class_name, _, method = planned.id.partition(".")
        case = getattr(module, class_name)(method)
        outcome = unittest.TestResult()
        case.run(outcome)
        if planned.complement:
            assert len(outcome.failures) == 1, planned
            assert "AssertionError" in outcome.failures[0][1]
            assert not outcome.errors
        else:
            assert outcome.wasSuccessful(), (planned, outcome.failures, outcome.errors)
