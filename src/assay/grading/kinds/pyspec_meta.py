"""Per-test metadata of a spec, read from its source on the host, and test selection.

Gradescope's decorators (``@weight(2)``, ``@visibility("hidden")``,
``@number("1.2")``, ``@partial_credit(4)``, ``@hide_errors("...")``,
``@tags(...)``) are read from the spec's syntax tree, never from the running
tests: the student's module is imported into the process that runs them and
could change any attribute there. Their arguments must therefore be literals.
The ``weights``, ``visibilities`` and ``numbers`` tables of ``assignment.toml``
override them. Selection (``select``, ``keyword``, ``markers``) works as
pytest's node ids, ``-k`` and ``-m``, evaluated on the host too.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from assay.grading.gradescope.results import GsVisibility
from assay.grading.spec import Visibility
from assay.grading.tamper import SpecTest

DECORATORS_MODULE = "gradescope_utils.autograder_utils.decorators"
KNOWN = frozenset({"weight", "visibility", "number", "partial_credit", "hide_errors", "tags"})
IGNORED = frozenset({"leaderboard"})
MAX_WEIGHT = 1e6
MAX_NUMBER_CHARS = 40

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

# Assay's own visibility names accepted in assignment.toml, as Gradescope's
_ASSAY_NAMES = {
    Visibility.VISIBLE.value: GsVisibility.VISIBLE,
    Visibility.HIDDEN.value: GsVisibility.HIDDEN,
    Visibility.AFTER_DUE.value: GsVisibility.AFTER_DUE_DATE,
}


@dataclass(frozen=True)
class TestMeta:
    """What the instructor said about one test function."""

    __test__ = False
    weight: float | None = None
    visibility: GsVisibility | None = None
    number: str | None = None
    partial: bool = False
    hide_errors: str | None = None
    tags: tuple[str, ...] = ()
    marks: frozenset[str] = field(default_factory=frozenset)  # pytest marks, for ``markers``


class MetaError(ValueError):
    """A decorator or table entry that cannot be used; ``line`` in the spec if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# -- values --------------------------------------------------------------------------
def check_weight(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MetaError(f"{where}: the weight must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_WEIGHT:
        raise MetaError(f"{where}: the weight must be between 0 and {MAX_WEIGHT:g}")
    return number


def check_visibility(value: object, where: str) -> GsVisibility:
    if isinstance(value, str) and value in _ASSAY_NAMES:
        return _ASSAY_NAMES[value]
    try:
        return GsVisibility(str(value))
    except ValueError:
        names = sorted({v.value for v in GsVisibility} | set(_ASSAY_NAMES))
        raise MetaError(f"{where}: unknown visibility {value!r} (use one of {names})") from None


def check_number(value: object, where: str) -> str:
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if not text or len(text) > MAX_NUMBER_CHARS or "\n" in text:
        raise MetaError(f'{where}: a number must be a short text like "1.2", not {value!r}')
    return text


def number_key(number: str | None) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Order by number ("1.2" < "1.10" < "2"), tests without one last."""
    if number is None:
        return (1, ())
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in number.split("."))
    return (0, parts)


# -- reading decorators ----------------------------------------------------------------
class _Names:
    """How the spec refers to the decorators: imported names and module aliases."""

    def __init__(self, module: ast.Module) -> None:
        self.functions: dict[str, str] = {}  # local name -> decorator name
        self.modules: set[str] = set()  # dotted names that mean the decorators module
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                for alias in node.names:
                    local = alias.asname or alias.name
                    if node.module == DECORATORS_MODULE:
                        self.functions[local] = alias.name
                    elif f"{node.module}.{alias.name}" == DECORATORS_MODULE:
                        self.modules.add(local)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == DECORATORS_MODULE:
                        self.modules.add(alias.asname or alias.name)

    def resolve(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            return self.functions.get(func.id)
        if isinstance(func, ast.Attribute) and ast.unparse(func.value) in self.modules:
            return func.attr
        return None


def _literal(node: ast.expr, name: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise MetaError(
            f"@{name}(...) needs a literal value (Assay reads it from the source), "
            f"not {ast.unparse(node)!r}",
            node.lineno,
        ) from None


def _apply(meta: TestMeta, name: str, call: ast.Call) -> TestMeta:
    args = [_literal(a, name) for a in call.args]
    kwargs = {k.arg: _literal(k.value, name) for k in call.keywords if k.arg}
    where = f"line {call.lineno}: @{name}"
    if name == "tags":
        return replace(meta, tags=tuple(str(a) for a in args))
    first = args[0] if args else next(iter(kwargs.values()), None)
    if name == "hide_errors":
        return replace(meta, hide_errors=str(first) if first is not None else "Test failed")
    if first is None:
        raise MetaError(f"{where} needs a value", call.lineno)
    try:
        if name == "weight":
            return replace(meta, weight=check_weight(first, where))
        if name == "partial_credit":
            return replace(meta, weight=check_weight(first, where), partial=True)
        if name == "visibility":
            return replace(meta, visibility=check_visibility(first, where))
        return replace(meta, number=check_number(first, where))
    except MetaError as exc:
        raise MetaError(str(exc), call.lineno) from None


def _marks(decorators: Sequence[ast.expr]) -> set[str]:
    found: set[str] = set()
    for decorator in decorators:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        text = ast.unparse(target)
        for prefix in ("pytest.mark.", "mark."):
            if text.startswith(prefix) and "." not in text[len(prefix) :]:
                found.add(text[len(prefix) :])
    return found


def _functions(module: ast.Module) -> dict[str, tuple[FunctionNode, set[str]]]:
    """Every function and method of the module by qualname, with its class's marks."""
    found: dict[str, tuple[FunctionNode, set[str]]] = {}
    for node in module.body:
        if isinstance(node, FunctionNode):
            found[node.name] = (node, set())
        elif isinstance(node, ast.ClassDef):
            marks = _marks(node.decorator_list)
            for item in node.body:
                if isinstance(item, FunctionNode):
                    found[f"{node.name}.{item.name}"] = (item, marks)
    return found


def read_meta(source: str, tests: Sequence[SpecTest], filename: str) -> dict[str, TestMeta]:
    """Each test's metadata from its decorators; raises ``MetaError`` or ``SyntaxError``."""
    module = ast.parse(source, filename=filename)
    names = _Names(module)
    functions = _functions(module)
    out: dict[str, TestMeta] = {}
    for test in tests:
        node, class_marks = functions[test.qualname]
        meta = TestMeta(marks=frozenset(class_marks | _marks(node.decorator_list)))
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            name = names.resolve(call.func if call else decorator)
            if name is None or name in IGNORED:
                continue
            if call is None or name not in KNOWN:
                raise MetaError(
                    f"@{ast.unparse(decorator)} is not one of Gradescope's decorators Assay "
                    f"knows ({', '.join(sorted(KNOWN | IGNORED))}), or is not called",
                    decorator.lineno,
                )
            meta = _apply(meta, name, call)
        out[test.qualname] = meta
    return out


def _lookup(tests: Sequence[SpecTest], key: str, table: str) -> list[SpecTest]:
    found = [t for t in tests if key in (t.qualname, t.name)]
    if not found:
        raise MetaError(f"{table}: no test function {key!r} in the spec")
    return found


def with_tables(
    meta: Mapping[str, TestMeta],
    tests: Sequence[SpecTest],
    *,
    weights: Mapping[str, float],
    visibilities: Mapping[str, str],
    numbers: Mapping[str, str],
) -> dict[str, TestMeta]:
    """``meta`` with the assignment.toml tables applied (they win over decorators)."""
    out = dict(meta)
    for key, value in weights.items():
        weight = check_weight(value, f"weights.{key}")
        for t in _lookup(tests, key, "weights"):
            out[t.qualname] = replace(out[t.qualname], weight=weight)
    for key, shown in visibilities.items():
        visibility = check_visibility(shown, f"visibilities.{key}")
        for t in _lookup(tests, key, "visibilities"):
            out[t.qualname] = replace(out[t.qualname], visibility=visibility)
    for key, given in numbers.items():
        label = check_number(given, f"numbers.{key}")
        for t in _lookup(tests, key, "numbers"):
            out[t.qualname] = replace(out[t.qualname], number=label)
    return out


def shares(
    points: float, tests: Sequence[SpecTest], meta: Mapping[str, TestMeta]
) -> dict[str, float]:
    """Each test's points: the entry's, in proportion to the weights, else split equally.

    When any test has a weight, a test without one weighs 0 (Gradescope's rule).
    """
    weights = [meta[t.qualname].weight for t in tests]
    if all(w is None for w in weights):
        return {t.qualname: points / len(tests) for t in tests}
    total = sum(w or 0.0 for w in weights)
    if total <= 0:
        raise MetaError("the tests' weights add up to 0")
    return {t.qualname: points * (w or 0.0) / total for t, w in zip(tests, weights, strict=True)}


# -- selection ---------------------------------------------------------------------------
_Node = Callable[[Callable[[str], bool]], bool]
_NOT, _OPEN, _CLOSE = "not", "(", ")"
_TOKEN = re.compile(r"\s*(\(|\)|[\w:+\-.\[\]\\/]+)")


def compile_expression(text: str, what: str) -> Callable[[Callable[[str], bool]], bool]:
    """pytest's ``-k``/``-m`` grammar: names joined by ``and``, ``or``, ``not``, brackets."""
    tokens: list[str] = []
    rest = text.strip()
    while rest:
        match = _TOKEN.match(rest)
        if match is None:
            raise MetaError(f"{what}: cannot read {rest[:30]!r} in {text!r}")
        tokens.append(match.group(1))
        rest = rest[match.end() :].lstrip()
    if not tokens:
        raise MetaError(f"{what}: the expression is empty")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise MetaError(f"{what}: {text!r} ends too early")
        position += 1
        return tokens[position - 1]

    def either() -> _Node:
        parts = [both()]
        while peek() == "or":
            take()
            parts.append(both())
        return lambda match: any(p(match) for p in parts)

    def both() -> _Node:
        parts = [negation()]
        while peek() == "and":
            take()
            parts.append(negation())
        return lambda match: all(p(match) for p in parts)

    def negation() -> _Node:
        word = take()
        if word == _NOT:
            inner = negation()
            return lambda match: not inner(match)
        if word == _OPEN:
            inner = either()
            if take() != _CLOSE:
                raise MetaError(f"{what}: a bracket is not closed in {text!r}")
            return inner
        if word in (_CLOSE, "and", "or"):
            raise MetaError(f"{what}: unexpected {word!r} in {text!r}")
        return lambda match: match(word)

    tree = either()
    if position != len(tokens):
        raise MetaError(f"{what}: unexpected {tokens[position]!r} in {text!r}")
    return tree


def select_tests(
    tests: Sequence[SpecTest],
    meta: Mapping[str, TestMeta],
    *,
    spec: str,
    select: Sequence[str] = (),
    keyword: str | None = None,
    markers: str | None = None,
) -> tuple[SpecTest, ...]:
    """The tests pytest would run with these node ids, ``-k`` and ``-m`` (all must hold)."""
    chosen = list(tests)
    if select:
        wanted: set[str] = set()
        for node_id in select:
            path, sep, name = node_id.partition("::")
            if not sep or path != spec or not name:
                raise MetaError(
                    f"select: {node_id!r} is not a node id of the spec "
                    f"(write {spec}::test_name or {spec}::TestClass::test_name)"
                )
            wanted.update(t.qualname for t in _lookup(tests, name.replace("::", "."), "select"))
        chosen = [t for t in chosen if t.qualname in wanted]
    module = spec.rpartition("/")[2]
    if keyword is not None:
        evaluate = compile_expression(keyword, "keyword")

        def by_name(test: SpecTest) -> bool:
            names = [*test.qualname.split("."), module, *meta[test.qualname].marks]
            return evaluate(lambda word: any(word.lower() in n.lower() for n in names))

        chosen = [t for t in chosen if by_name(t)]
    if markers is not None:
        evaluate_marks = compile_expression(markers, "markers")

        def by_mark(test: SpecTest) -> bool:
            marks = meta[test.qualname].marks
            return evaluate_marks(lambda mark: mark in marks)

        chosen = [t for t in chosen if by_mark(t)]
    if not chosen:
        raise MetaError("the selection (select, keyword, markers) leaves no test to run")
    return tuple(chosen)
