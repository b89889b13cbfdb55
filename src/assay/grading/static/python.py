"""Python: the imports, library calls and references of a module, found with ``ast``.

A name is *local* when the student's code binds it anywhere in the module
(functions, classes, parameters, assignments, loop and ``with`` targets...);
calls of local names are the student's own code. Import aliases resolve to
their module (``import os as o; o.system()`` is ``os.system``), and so do
plain assignments of library names (``run = os.system``). Everything else
that is read is a library name: a builtin or an imported one. The walk is
iterative, so deeply nested code cannot exhaust the stack.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from assay.grading.static.rules import Use, UseKind

IMPORT_FUNCTIONS = frozenset({"__import__", "importlib.import_module", "importlib.__import__"})
GETATTR = "getattr"
MAX_USES = 5000
_MAX_RESOLVE_DEPTH = 20


class UncheckableSource(Exception):  # noqa: N818 - a result, not a failure of ours
    """The source parses for Python but is too deeply nested to be analysed."""


@dataclass(frozen=True)
class PythonScan:
    uses: tuple[Use, ...]


def scan_python(source: bytes, file: str) -> PythonScan | None:
    """The uses in one file, or ``None`` when it does not parse (the build reports that).

    Raises ``UncheckableSource`` when the parser itself gives up on nesting.
    """
    try:
        tree = ast.parse(source, filename=file)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError) as exc:
        raise UncheckableSource(file) from exc
    lines = source.splitlines()
    scanner = _Scanner(file, lines)
    scanner.collect(tree)
    uses = sorted(scanner.uses(tree), key=lambda u: (u.line or 0, u.column or 0))
    return PythonScan(tuple(uses))


class _Scanner:
    def __init__(self, file: str, lines: list[bytes]) -> None:
        self.file = file
        self.lines = lines
        self.aliases: dict[str, str] = {}  # bound name -> dotted library name
        self.local: set[str] = set()
        self.skip: set[int] = set()  # ids of annotation nodes: not uses
        self.consumed: set[int] = set()  # ids of nodes that are part of a larger chain

    # -- first pass: bindings --------------------------------------------------
    def collect(self, tree: ast.AST) -> None:
        assigned: list[tuple[str, ast.expr]] = []
        for node in ast.walk(tree):
            match node:
                case ast.Import(names=names):
                    for alias in names:
                        if alias.asname:
                            self.aliases[alias.asname] = alias.name
                        else:
                            top = alias.name.split(".")[0]
                            self.aliases[top] = top
                case ast.ImportFrom(module=module, names=names, level=0) if module:
                    for alias in names:
                        if alias.name != "*":
                            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
                case ast.ImportFrom(names=names):  # relative: the student's own modules
                    self.local.update(a.asname or a.name for a in names)
                case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name):
                    self.local.add(name)
                    if node.returns is not None:
                        self._skip(node.returns)
                case ast.ClassDef(name=name):
                    self.local.add(name)
                case ast.arg(arg=name, annotation=annotation):
                    self.local.add(name)
                    if annotation is not None:
                        self._skip(annotation)
                case ast.AnnAssign(annotation=annotation):
                    self._skip(annotation)
                case ast.Name(id=name, ctx=ast.Store() | ast.Del()):
                    self.local.add(name)
                case ast.ExceptHandler(name=str() as name):
                    self.local.add(name)
                case ast.MatchAs(name=str() as name) | ast.MatchStar(name=str() as name):
                    self.local.add(name)
                case ast.MatchMapping(rest=str() as name):
                    self.local.add(name)
                case ast.Assign(targets=[ast.Name(id=target)], value=ast.Name() | ast.Attribute()):
                    assigned.append((target, node.value))
                case ast.Attribute(value=value):
                    self.consumed.add(id(value))
                case ast.Call(func=func):
                    self.consumed.add(id(func))
        for _ in range(3):  # run = os.system; go = run
            for target, value in assigned:
                resolved = self.resolve(value)
                if resolved is not None and target not in self.aliases:
                    self.aliases[target] = resolved

    def _skip(self, annotation: ast.AST) -> None:
        self.skip.update(id(n) for n in ast.walk(annotation))

    # -- name resolution ---------------------------------------------------------
    def resolve(self, expr: ast.expr, depth: int = 0) -> str | None:
        """The library name an expression stands for, or ``None`` (local or unknown)."""
        attrs: list[str] = []
        while isinstance(expr, ast.Attribute):
            attrs.append(expr.attr)
            expr = expr.value
        base: str | None = None
        if isinstance(expr, ast.Name):
            if expr.id in self.aliases:
                base = self.aliases[expr.id]
            elif expr.id not in self.local:
                base = expr.id
        elif isinstance(expr, ast.Call) and depth < _MAX_RESOLVE_DEPTH:
            base = self.dynamic_target(expr, depth + 1)
        if base is None:
            return None
        name = ".".join([base, *reversed(attrs)])
        for prefix in ("builtins.", "__builtins__."):
            name = name.removeprefix(prefix)
        return name

    def dynamic_target(self, call: ast.Call, depth: int) -> str | None:
        """``__import__("os")`` -> ``os``; ``getattr(os, "system")`` -> ``os.system``."""
        callee = self.resolve(call.func, depth)
        literal = _literal(call.args[0]) if call.args else None
        if callee in IMPORT_FUNCTIONS and literal is not None:
            return literal
        if callee == GETATTR and len(call.args) >= 2:
            attribute = _literal(call.args[1])
            owner = self.resolve(call.args[0], depth)
            if attribute is not None and owner is not None:
                return f"{owner}.{attribute}"
        return None

    # -- second pass: uses ---------------------------------------------------------
    def uses(self, tree: ast.AST) -> Iterator[Use]:
        count = 0
        for node in ast.walk(tree):
            for use in self._uses_of(node):
                yield use
                count += 1
                if count >= MAX_USES:
                    return

    def _uses_of(self, node: ast.AST) -> Iterator[Use]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield self.use(alias.name, UseKind.IMPORT, node)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name == "*":
                    yield self.use(node.module, UseKind.STAR_IMPORT, node)
                else:
                    yield self.use(f"{node.module}.{alias.name}", UseKind.IMPORT, node)
        elif isinstance(node, ast.Call):
            yield from self._call(node)
        elif (
            isinstance(node, ast.Name | ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and id(node) not in self.consumed
            and id(node) not in self.skip
        ):
            name = self.resolve(node)
            if name is not None:
                yield self.use(name, UseKind.REFERENCE, node)
            elif isinstance(node, ast.Attribute):
                yield self.use("." + node.attr, UseKind.METHOD, node)

    def _call(self, node: ast.Call) -> Iterator[Use]:
        callee = self.resolve(node.func)
        if callee is None:
            if isinstance(node.func, ast.Attribute):
                yield self.use("." + node.func.attr, UseKind.METHOD, node)
            return
        yield self.use(callee, UseKind.CALL, node)
        literal = _literal(node.args[0]) if node.args else None
        if callee in IMPORT_FUNCTIONS:
            if literal is not None:
                yield self.use(literal, UseKind.DYNAMIC_IMPORT, node, detail=callee)
            else:
                yield self.use(callee, UseKind.COMPUTED_IMPORT, node)
        elif callee == GETATTR:
            target = self.dynamic_target(node, 1)
            attribute = _literal(node.args[1]) if len(node.args) >= 2 else None
            if target is None and attribute is not None:
                target = "." + attribute
            if target is not None:
                yield self.use(target, UseKind.DYNAMIC_ATTRIBUTE, node)

    def use(self, name: str, kind: UseKind, node: ast.AST, detail: str = "") -> Use:
        line = getattr(node, "lineno", None)
        offset = getattr(node, "col_offset", None)
        column = None
        if line is not None and offset is not None and 0 < line <= len(self.lines):
            prefix = self.lines[line - 1][:offset]
            column = len(prefix.decode("utf-8", errors="replace")) + 1
        return Use(name, kind, self.file, line, column, detail)


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
