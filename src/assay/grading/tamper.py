"""Spec-test discovery and WebLab's complement transform, on the ``ast``.

For each test whose last assertion always runs, a complement copy is added
with that assertion flipped (``assertEqual`` -> ``assertNotEqual``,
``assert a == b`` -> ``assert a != b``...). A correct solution fails every
complement by an assertion; a submission that passes a test *and* its
complement has tampered with the tests (or returned answers that compare
equal to anything). Every test is renamed to a random ``test_<hex>`` and the
order is shuffled, so only the host's plan says which test is which.

This module is trusted host code: it reads only the instructor's spec.
"""

from __future__ import annotations

import ast
import copy
import random
from dataclasses import dataclass
from enum import StrEnum


class SpecMode(StrEnum):
    UNITTEST = "unittest"
    PYTEST = "pytest"


# unittest methods and their complements (both directions)
_METHOD_PAIRS = (
    ("assertEqual", "assertNotEqual"),
    ("assertTrue", "assertFalse"),
    ("assertIs", "assertIsNot"),
    ("assertIsNone", "assertIsNotNone"),
    ("assertIn", "assertNotIn"),
    ("assertIsInstance", "assertNotIsInstance"),
    ("assertAlmostEqual", "assertNotAlmostEqual"),
    ("assertRegex", "assertNotRegex"),
)
FLIPPED_METHODS = {a: b for a, b in _METHOD_PAIRS} | {b: a for a, b in _METHOD_PAIRS}
_FLIPPED_OPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
# context managers that assert (their bodies may stop early: not unconditional)
_ASSERTING_CONTEXTS = frozenset(
    {
        "assertRaises",
        "assertRaisesRegex",
        "assertWarns",
        "assertWarnsRegex",
        "assertLogs",
        "assertNoLogs",
        "raises",
        "warns",
        "deprecated_call",
    }
)
# decorators after which a failing test counts as passed (its complement would too)
_NO_COMPLEMENT_DECORATORS = frozenset({"expectedFailure", "xfail"})
_FIXTURE_DECORATORS = frozenset({"fixture", "yield_fixture"})
_TEST_PREFIX = "test"
_ID_HEX_DIGITS = 12

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class SpecTest:
    """One test function of a spec, as the instructor wrote it."""

    qualname: str  # "TestSum.test_small" or "test_small"
    line: int
    complementable: bool

    @property
    def name(self) -> str:
        return self.qualname.rpartition(".")[2]


@dataclass(frozen=True)
class PlannedTest:
    """One test of a transformed spec: its id there, and what it stands for."""

    id: str  # qualified name in the transformed source
    original: str  # qualified name in the instructor's spec
    complement: bool


@dataclass(frozen=True)
class Transformed:
    source: str
    plan: tuple[PlannedTest, ...]  # in the order the tests are to be run


@dataclass(frozen=True)
class _Found:
    owner: list[ast.stmt]  # the body the test is defined in
    node: FunctionNode
    qualname: str


# -- discovery ------------------------------------------------------------------
def _terminal_name(node: ast.expr) -> str:
    """``x`` of ``x``, ``a.b.x`` and ``a.b.x(...)``; ``""`` otherwise."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _testcase_classes(module: ast.Module) -> set[str]:
    """Module-level classes that derive from a ``*TestCase``, and their local mixins."""
    classes = {n.name: n for n in module.body if isinstance(n, ast.ClassDef)}
    bases = {name: [_terminal_name(b) for b in c.bases] for name, c in classes.items()}
    cases: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, names in bases.items():
            if name not in cases and any(b.endswith("TestCase") or b in cases for b in names):
                cases.add(name)
                changed = True
    mixins: set[str] = set()
    pending = list(cases)
    while pending:
        for base in bases.get(pending.pop(), []):
            if base in classes and base not in cases and base not in mixins:
                mixins.add(base)
                pending.append(base)
    return cases | mixins


def _is_fixture(node: FunctionNode) -> bool:
    return any(_terminal_name(d) in _FIXTURE_DECORATORS for d in node.decorator_list)


def _test_functions(module: ast.Module, mode: SpecMode) -> list[_Found]:
    found: list[_Found] = []
    case_classes = _testcase_classes(module)
    for node in module.body:
        if mode is SpecMode.PYTEST and isinstance(node, FunctionNode):
            if node.name.startswith(_TEST_PREFIX) and not _is_fixture(node):
                found.append(_Found(module.body, node, node.name))
        elif isinstance(node, ast.ClassDef):
            wanted = node.name in case_classes or (
                mode is SpecMode.PYTEST and node.name.startswith("Test")
            )
            if not wanted:
                continue
            for item in node.body:
                if (
                    isinstance(item, FunctionNode)
                    and item.name.startswith(_TEST_PREFIX)
                    and not _is_fixture(item)
                ):
                    found.append(_Found(node.body, item, f"{node.name}.{item.name}"))
    return found


def find_tests(source: str, mode: SpecMode, filename: str = "<spec>") -> tuple[SpecTest, ...]:
    """The spec's test functions in source order; raises ``SyntaxError``."""
    module = ast.parse(source, filename=filename)
    return tuple(
        SpecTest(f.qualname, f.node.lineno, _complement_target(f.node) is not None)
        for f in _test_functions(module, mode)
    )


# -- the last assertion -----------------------------------------------------------
def _asserting_call(stmt: ast.stmt) -> ast.Call | None:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        name = _terminal_name(stmt.value)
        if name.startswith("assert") or name == "fail":
            return stmt.value
    return None


def _asserting_with(stmt: ast.With | ast.AsyncWith) -> bool:
    return any(_terminal_name(item.context_expr) in _ASSERTING_CONTEXTS for item in stmt.items)


class _Scan:
    """The assertion statements of a function body, in order, and what could stop them."""

    def __init__(self) -> None:
        self.assertions: list[tuple[ast.stmt, bool]] = []  # (statement, always runs)
        self.returns_before: set[int] = set()  # indexes of assertions after some ``return``
        self.seen_return = False

    def body(self, statements: list[ast.stmt], unconditional: bool) -> None:
        for stmt in statements:
            self.statement(stmt, unconditional)

    def _record(self, stmt: ast.stmt, unconditional: bool) -> None:
        if self.seen_return:
            self.returns_before.add(len(self.assertions))
        self.assertions.append((stmt, unconditional))

    def statement(self, stmt: ast.stmt, unconditional: bool) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return  # defined, not run here
        if isinstance(stmt, ast.Return):
            self.seen_return = True
            return
        if isinstance(stmt, ast.Assert) or _asserting_call(stmt) is not None:
            self._record(stmt, unconditional)
            return
        if isinstance(stmt, ast.With | ast.AsyncWith):
            asserting = _asserting_with(stmt)
            if asserting:
                self._record(stmt, unconditional)
            self.body(stmt.body, unconditional and not asserting)
            return
        for field in ("body", "orelse", "finalbody"):
            self.body(getattr(stmt, field, []), False)
        for handler in getattr(stmt, "handlers", []):
            self.body(handler.body, False)
        for case in getattr(stmt, "cases", []):
            self.body(case.body, False)


def _has_yield_or_await(node: FunctionNode) -> bool:
    return any(isinstance(sub, ast.Yield | ast.YieldFrom | ast.Await) for sub in ast.walk(node))


def _complement_target(node: FunctionNode) -> ast.stmt | None:
    """The assertion to flip in a complement, or ``None`` if the test gets none.

    Only when the last assertion always runs once the test gets that far
    (not inside if/for/while/try/match, not after a ``return``), can be
    flipped, and the test is a plain function that runs to completion.
    """
    if isinstance(node, ast.AsyncFunctionDef) or _has_yield_or_await(node):
        return None
    if any(_terminal_name(d) in _NO_COMPLEMENT_DECORATORS for d in node.decorator_list):
        return None
    scan = _Scan()
    scan.body(node.body, True)
    if not scan.assertions:
        return None
    index = len(scan.assertions) - 1
    stmt, unconditional = scan.assertions[index]
    if not unconditional or index in scan.returns_before:
        return None
    call = _asserting_call(stmt)
    flippable = isinstance(stmt, ast.Assert) or (
        call is not None
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in FLIPPED_METHODS
    )
    return stmt if flippable else None


def flip_assertion(stmt: ast.stmt) -> None:
    """Turn an assertion into its complement, in place (messages are kept)."""
    if isinstance(stmt, ast.Assert):
        stmt.test = flip_condition(stmt.test)
        return
    call = _asserting_call(stmt)
    if call is None or not isinstance(call.func, ast.Attribute):
        raise ValueError("not a flippable assertion")
    call.func.attr = FLIPPED_METHODS[call.func.attr]


def flip_condition(test: ast.expr) -> ast.expr:
    """``a == b`` -> ``a != b`` (also is/is not, in/not in); ``not x`` -> ``x``;
    anything else -> ``not (x)``."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        flipped = _FLIPPED_OPS.get(type(test.ops[0]))
        if flipped is not None:
            return ast.Compare(left=test.left, ops=[flipped()], comparators=test.comparators)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(op=ast.Not(), operand=test)


# -- the transform ------------------------------------------------------------------
def _fresh_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = f"test_{rng.getrandbits(4 * _ID_HEX_DIGITS):0{_ID_HEX_DIGITS}x}"
        if name not in taken:
            taken.add(name)
            return name


def _renamed(qualname: str, name: str) -> str:
    owner, dot, _ = qualname.rpartition(".")
    return f"{owner}{dot}{name}"


def transform(
    source: str,
    mode: SpecMode,
    *,
    rng: random.Random,
    anti_tamper: bool = True,
    filename: str = "<spec>",
) -> Transformed:
    """The spec as it runs in the sandbox, and the plan that decodes its results.

    Without ``anti_tamper`` the source is unchanged and the plan lists the
    tests under their own names, in source order.
    """
    module = ast.parse(source, filename=filename)
    found = _test_functions(module, mode)
    if not anti_tamper:
        plan = tuple(PlannedTest(f.qualname, f.qualname, complement=False) for f in found)
        return Transformed(source, plan)
    taken = {n.name for n in ast.walk(module) if isinstance(n, FunctionNode | ast.ClassDef)}
    planned: list[PlannedTest] = []
    per_owner: dict[int, list[FunctionNode]] = {}
    for f in found:
        target = _complement_target(f.node)
        copies: list[tuple[FunctionNode, bool]] = [(f.node, False)]
        if target is not None:
            twin = copy.deepcopy(f.node)
            twin_target = _complement_target(twin)
            if twin_target is None:  # pragma: no cover - the same scan on a copy
                raise AssertionError("complement target vanished in the copy")
            flip_assertion(twin_target)
            copies.append((twin, True))
        for node, is_complement in copies:
            node.name = _fresh_name(rng, taken)
            planned.append(PlannedTest(_renamed(f.qualname, node.name), f.qualname, is_complement))
            per_owner.setdefault(id(f.owner), []).append(node)
    for f in found:
        nodes = per_owner.pop(id(f.owner), None)
        if nodes is not None:
            _reorder(f.owner, {id(x.node) for x in found if x.owner is f.owner}, nodes, rng)
    rng.shuffle(planned)
    return Transformed(ast.unparse(ast.fix_missing_locations(module)) + "\n", tuple(planned))


def _reorder(
    body: list[ast.stmt], slots: set[int], tests: list[FunctionNode], rng: random.Random
) -> None:
    """Put ``tests`` (shuffled) where the owner's test functions were; extras after the last."""
    rng.shuffle(tests)
    positions = [i for i, stmt in enumerate(body) if id(stmt) in slots]
    last = positions[-1]
    for slot, test in zip(positions[:-1], tests, strict=False):
        body[slot] = test
    body[last : last + 1] = tests[len(positions) - 1 :]


__all__ = [
    "FLIPPED_METHODS",
    "PlannedTest",
    "SpecMode",
    "SpecTest",
    "Transformed",
    "find_tests",
    "flip_assertion",
    "flip_condition",
    "transform",
]
