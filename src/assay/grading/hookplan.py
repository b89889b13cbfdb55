"""What a package's ``grader.py`` registers, read from its source without running it.

The platform needs the hook tests' names and points when a package is
uploaded (its maximum score, the plan of a grading), and must not execute
the instructor's code to learn them. So hooks are registered only as
decorators on top-level functions, with literal arguments:

    @build
    @test("name", points=2, visibility="hidden", group="g")

and anything else that names ``build`` or ``test`` is refused with the line
and the fix. At grading, the hook runner (in its own sandbox) runs the hooks
this plan names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from assay.errors import PackageError
from assay.grading.spec import Visibility

API_MODULE = "assay.grading.hooks"
API_PARENT, API_NAME = API_MODULE.rsplit(".", 1)
FIX = "register hooks as @build or @test('name', points=N) on top-level functions, with literals"


@dataclass(frozen=True)
class PlannedTest:
    name: str
    points: float
    visibility: Visibility
    group: str


@dataclass(frozen=True)
class HookPlan:
    """The hooks of one ``grader.py``: how many build hooks, which tests."""

    file: str
    builds: int
    tests: tuple[PlannedTest, ...]

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)


class _Names:
    """How ``grader.py`` refers to the API: imported names and module aliases."""

    def __init__(self, tree: ast.Module) -> None:
        self.build: set[str] = set()
        self.test: set[str] = set()
        self.modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == API_MODULE:
                for alias in node.names:
                    if alias.name in ("build", "test"):
                        getattr(self, alias.name).add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module == API_PARENT:
                self.modules |= {a.asname or a.name for a in node.names if a.name == API_NAME}
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == API_MODULE and alias.asname:
                        self.modules.add(alias.asname)

    def which(self, node: ast.expr) -> str | None:
        """``"build"``/``"test"`` if ``node`` names that API function."""
        if isinstance(node, ast.Name):
            if node.id in self.build:
                return "build"
            if node.id in self.test:
                return "test"
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("build", "test")
            and (
                (isinstance(node.value, ast.Name) and node.value.id in self.modules)
                or ast.unparse(node.value) == API_MODULE
            )
        ):
            return node.attr
        return None


def _error(file: str, node: ast.AST, message: str) -> PackageError:
    return PackageError(f"line {getattr(node, 'lineno', '?')}: {message}", file=file, fix=FIX)


def _literal(file: str, node: ast.expr, what: str) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise _error(file, node, f"{what} must be a literal, not {ast.unparse(node)!r}") from None


def _planned(file: str, call: ast.Call) -> PlannedTest:
    args: dict[str, ast.expr] = {}
    if len(call.args) > 1 or any(isinstance(a, ast.Starred) for a in call.args):
        raise _error(file, call, "@test takes the name, then points=, visibility=, group=")
    if call.args:
        args["name"] = call.args[0]
    for keyword in call.keywords:
        if keyword.arg not in ("name", "points", "visibility", "group"):
            raise _error(file, call, f"@test has no argument {keyword.arg!r}")
        args[keyword.arg] = keyword.value
    if "name" not in args:
        raise _error(file, call, "@test needs a name")
    name = _literal(file, args["name"], "a test's name")
    points = _literal(file, args["points"], "points") if "points" in args else 1.0
    visibility = _literal(file, args["visibility"], "visibility") if "visibility" in args else ""
    group = _literal(file, args["group"], "group") if "group" in args else ""
    if not isinstance(name, str) or not name.strip():
        raise _error(file, call, "a test's name must be a non-empty string")
    if isinstance(points, bool) or not isinstance(points, int | float) or not points >= 0:
        raise _error(file, call, f"test {name!r}: points must be a number >= 0")
    if not isinstance(group, str):
        raise _error(file, call, f"test {name!r}: group must be a string")
    try:
        vis = Visibility(str(visibility) or Visibility.VISIBLE)
    except ValueError:
        raise _error(
            file, call, f"test {name!r}: visibility must be visible, hidden or after_due"
        ) from None
    return PlannedTest(name, float(points), vis, group)


def read_plan(path: Path, file: str) -> HookPlan:
    """The plan of ``grader.py`` at ``path`` (``file``: its name in messages)."""
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=file)
    except (UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise PackageError(f"cannot be read as Python: {exc}", file=file) from exc
    names = _Names(tree)
    allowed: set[int] = set()
    builds = 0
    tests: list[PlannedTest] = []
    for statement in tree.body:
        if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in statement.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            kind = names.which(target)
            if kind == "build" and not isinstance(decorator, ast.Call):
                builds += 1
                allowed.add(id(target))
            elif kind == "test" and isinstance(decorator, ast.Call):
                planned = _planned(file, decorator)
                if planned.name in {t.name for t in tests}:
                    raise _error(file, decorator, f"test {planned.name!r} is registered twice")
                tests.append(planned)
                allowed.add(id(target))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and id(node) not in allowed:
            kind = names.which(node)
            if kind is not None:
                raise _error(file, node, f"{kind} is used other than as a decorator")
    return HookPlan(file, builds, tuple(tests))
