"""Read a check50 problem's ``__init__.py`` into checks Assay can run, from its syntax tree.

The instructor's Python is parsed, never executed. A check is a function decorated
``@check50.check(dependency)``; its body is translated statement by statement:

* ``check50.exists(...)`` -> required files; ``check50.include(...)`` -> support files;
* ``check50.c.compile(...)`` / ``check50.py.compile(...)`` -> build commands;
* ``check50.run(cmd)`` chains (``stdin``, ``stdout``, ``reject``, ``exit``, ``kill``)
  -> a ``dialogue`` test; ``check50.c.valgrind(cmd)`` chains -> a ``valgrind`` test
  (and a ``dialogue`` test for the same conversation); ``check50.py.import_`` -> a
  ``script`` test that imports the module;
* ``check50.log(...)`` is dropped (it only writes to the log).

Arguments may be literals, names bound once to literals (in the module or the
check), ``check50.EOF``, ``check50.regex.decimal(n)`` and ``open("file").read()`` of
a file of the problem. Anything else (loops, conditions, helpers, results used in
Python, custom ``Failure`` messages) leaves the whole check untranslated, with
each statement that stopped it reported as ``file:line``: a check is never
replaced by a weaker one.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKS_FILE = "__init__.py"
CONFIG = ".cs50.yml"
SIMPLE_KEYS = frozenset({"run", "stdin", "stdout", "exit"})
SHELL_CHARS = re.compile(r"[|&;<>()$`\\\"'*?\[\]#~=%{}]")
# check50's defaults (check50/_api.py, check50/c.py)
C_COMPILER = "clang"
C_FLAGS: dict[str, Any] = {"std": "c11", "ggdb": True, "lm": True}


class _Eof:
    """check50.EOF."""


EOF = _Eof()


@dataclass(frozen=True)
class Problem:
    """Something that could not be translated."""

    where: str  # file:line
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Test:
    """One Assay test a check becomes."""

    name: str
    kind: str  # dialogue | valgrind | script
    options: dict[str, Any]


@dataclass
class Check:
    name: str  # the function's name (check50's result name)
    description: str  # its docstring
    dependency: str | None
    line: int
    required: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    build: list[list[str]] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    hidden: str | None = None  # @check50.hidden's message

    @property
    def translated(self) -> bool:
        return not self.problems


class Untranslatable(Exception):  # noqa: N818 - a reason, not an error of ours
    def __init__(self, node: ast.AST, what: str) -> None:
        super().__init__(what)
        self.line = getattr(node, "lineno", 0)
        self.what = what


def decimal(number: float) -> str:
    """check50.regex.decimal: a regex matching exactly this number."""
    behind = r"(?<![\d\-])" if number >= 0 else ""
    return rf"{behind}{re.escape(str(number))}(?!(\.?\d))"


def command_argv(command: str) -> list[str]:
    """check50 runs ``bash -c command``: the same argv when the shell matters."""
    if SHELL_CHARS.search(command):
        return ["bash", "-c", command]
    return shlex.split(command)


class _Reader:
    """Translates one module's checks."""

    def __init__(self, tree: ast.Module, folder: Path, filename: str) -> None:
        self.folder = folder
        self.filename = filename
        self.aliases: dict[str, str] = {}  # local name -> dotted check50 path
        self.constants: dict[str, Any] = {}
        for node in tree.body:
            self._module_statement(node)

    def _module_statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "check50":
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        self.aliases["check50"] = "check50"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("check50"):
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    self.constants[target.id] = self._value(node.value, {})
                except Untranslatable:
                    self.constants.pop(target.id, None)

    def where(self, line: int) -> str:
        return f"{self.filename}:{line}"

    # -- names and values --------------------------------------------------------------
    def dotted(self, node: ast.expr) -> str | None:
        """``check50.c.compile`` for an expression naming a check50 function."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def _value(self, node: ast.expr, local: dict[str, Any]) -> Any:  # noqa: PLR0911
        if self.dotted(node) == "check50.EOF":
            return EOF
        if isinstance(node, ast.Name):
            if node.id in local:
                return local[node.id]
            if node.id in self.constants:
                return self.constants[node.id]
            if node.id in {"True", "False", "None"}:
                return {"True": True, "False": False, "None": None}[node.id]
            raise Untranslatable(node, f"{node.id!r} is not a literal")
        if isinstance(node, ast.Call):
            return self._call_value(node, local)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._value(node.left, local), self._value(node.right, local)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            raise Untranslatable(node, "an expression that is not a literal")
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise Untranslatable(node, f"{ast.unparse(node)[:80]!r} is not a literal") from None

    def _call_value(self, node: ast.Call, local: dict[str, Any]) -> Any:
        path = self.dotted(node.func)
        if path == "check50.regex.decimal" and len(node.args) == 1 and not node.keywords:
            number = self._value(node.args[0], local)
            if isinstance(number, int | float) and not isinstance(number, bool):
                return decimal(number)
        func = node.func
        if (  # open("file").read(): a file of the problem, read now
            isinstance(func, ast.Attribute)
            and func.attr == "read"
            and not node.args
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "open"
            and len(func.value.args) == 1
        ):
            name = self._value(func.value.args[0], local)
            path_in = (self.folder / str(name)).resolve()
            inside = path_in.is_relative_to(self.folder.resolve())
            if isinstance(name, str) and inside and path_in.is_file():
                return path_in.read_text(encoding="utf-8")
        raise Untranslatable(node, f"the call {ast.unparse(node)[:80]!r} is computed in Python")

    def _args(
        self, call: ast.Call, names: tuple[str, ...], local: dict[str, Any]
    ) -> dict[str, Any]:
        """A call's arguments by parameter name (positional ones in ``names``' order)."""
        if any(isinstance(a, ast.Starred) for a in call.args) or any(
            k.arg is None for k in call.keywords
        ):
            raise Untranslatable(call, "arguments passed with * or **")
        if len(call.args) > len(names):
            raise Untranslatable(call, "more arguments than check50 takes")
        values = {names[i]: self._value(a, local) for i, a in enumerate(call.args)}
        for keyword in call.keywords:
            if keyword.arg not in names:
                raise Untranslatable(call, f"an unknown argument {keyword.arg}=")
            values[str(keyword.arg)] = self._value(keyword.value, local)
        return values

    # -- checks ------------------------------------------------------------------------
    def checks(self, tree: ast.Module) -> list[Check]:
        found = []
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            check = self._check(node)
            if check is not None:
                found.append(check)
        return found

    def _check(self, node: ast.FunctionDef) -> Check | None:
        dependency: str | None = None
        hidden: str | None = None
        is_check = False
        problems = []
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            path = self.dotted(call.func if call else decorator)
            if path == "check50.check":
                is_check = True
                arg = call.args[0] if call and call.args else None
                for keyword in call.keywords if call else []:
                    if keyword.arg == "dependency":
                        arg = keyword.value
                    elif keyword.arg in {"timeout", "max_log_lines"}:
                        continue  # the whole check's time; Assay times each step
                if isinstance(arg, ast.Name):
                    dependency = arg.id
                elif arg is not None and not (isinstance(arg, ast.Constant) and arg.value is None):
                    problems.append(Problem(self.where(decorator.lineno), "a computed dependency"))
            elif path == "check50.hidden" and call is not None and call.args:
                try:
                    hidden = str(self._value(call.args[0], {}))
                except Untranslatable as exc:
                    problems.append(Problem(self.where(exc.line), exc.what))
            else:
                problems.append(
                    Problem(self.where(decorator.lineno), f"the decorator {ast.unparse(decorator)}")
                )
        if not is_check:
            return None
        description = ast.get_docstring(node) or node.name
        check = Check(node.name, description.strip(), dependency, node.lineno, hidden=hidden)
        check.problems += problems
        local: dict[str, Any] = {}
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for statement in body:
            try:
                self._statement(statement, check, local)
            except Untranslatable as exc:
                check.problems.append(Problem(self.where(exc.line), exc.what))
        return check

    def _statement(self, node: ast.stmt, check: Check, local: dict[str, Any]) -> None:
        if isinstance(node, ast.Pass):
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id not in local:
                local[target.id] = self._value(node.value, local)
                return
        if isinstance(node, ast.Raise):
            raise Untranslatable(node, "a custom failure (raise ...)")
        if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
            kind = type(node).__name__.lower()
            raise Untranslatable(node, f"Python logic ({kind}: {ast.unparse(node)[:60]!r})")
        chain = self._chain(node.value)
        root, args = chain[0]
        rest = chain[1:]
        match root:
            case "check50.exists":
                self._no_chain(node, rest)
                check.required += [str(self._value(a, local)) for a in args.args]
            case "check50.include":
                self._no_chain(node, rest)
                check.include += [str(self._value(a, local)) for a in args.args]
            case "check50.log" | "check50.data":
                return
            case "check50.c.compile":
                self._no_chain(node, rest)
                check.build.append(self._c_compile(args, local))
            case "check50.py.compile":
                self._no_chain(node, rest)
                file = self._args(args, ("file",), local)["file"]
                check.build.append(["python3", "-m", "py_compile", str(file)])
            case "check50.py.import_":
                self._no_chain(node, rest)
                path = str(self._args(args, ("path",), local)["path"])
                check.tests.append(_import_test(check, path))
            case "check50.run" | "check50.c.valgrind":
                self._run_chain(node, chain, check, local)
            case _:
                raise Untranslatable(node, f"a call of {root or ast.unparse(node.value.func)}")

    def _no_chain(self, node: ast.AST, rest: list[tuple[str, ast.Call]]) -> None:
        if rest:
            raise Untranslatable(node, f"a method call .{rest[0][0]}() on this result")

    def _chain(self, call: ast.Call) -> list[tuple[str, ast.Call]]:
        """``a(x).b(y).c()`` -> [("check50.a", a(x)), ("b", ...), ("c", ...)]."""
        links: list[tuple[str, ast.Call]] = []
        node: ast.expr = call
        while isinstance(node, ast.Call):
            path = self.dotted(node.func)
            if path is not None:
                links.append((path, node))
                break
            if not isinstance(node.func, ast.Attribute):
                raise Untranslatable(node, f"a call of {ast.unparse(node.func)[:60]}")
            links.append((node.func.attr, node))
            node = node.func.value
        else:
            raise Untranslatable(call, f"a call on {ast.unparse(node)[:60]}")
        return links[::-1]

    def _c_compile(self, call: ast.Call, local: dict[str, Any]) -> list[str]:
        if any(isinstance(a, ast.Starred) for a in call.args):
            raise Untranslatable(call, "files passed with *")
        files = [str(self._value(a, local)) for a in call.args]
        if not files:
            raise Untranslatable(call, "compile() without files")
        options: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                raise Untranslatable(call, "flags passed with **")
            options[keyword.arg] = self._value(keyword.value, local)
        exe = options.pop("exe_name", None)
        cc = str(options.pop("cc", C_COMPILER))
        options.pop("max_log_lines", None)
        if exe is None and files[0].endswith(".c"):
            exe = Path(files[0]).stem
        flags = dict(C_FLAGS) | options
        argv = [cc, *files]
        if exe is not None:
            argv += ["-o", str(exe)]
        for flag, value in flags.items():
            if value:
                text = f"-{flag}" + ("" if value is True else f"={value}")
                argv.append(text.replace("_", "-"))
        return argv

    def _run_chain(
        self,
        node: ast.AST,
        chain: list[tuple[str, ast.Call]],
        check: Check,
        local: dict[str, Any],
    ) -> None:
        (root, call), rest = chain[0], chain[1:]
        args = self._args(call, ("command", "env"), local)
        if args.get("env"):
            raise Untranslatable(node, "a run with its own environment variables (env=)")
        command = command_argv(str(args["command"]))
        steps: list[dict[str, Any]] = []
        for method, link in rest:
            steps.append(self._step(method, link, local))
        steps = [s for s in steps if s]
        count = sum(1 for t in check.tests if t.kind == "dialogue")
        suffix = f" ({count + 1})" if count else ""
        check.tests.append(
            Test(check.description + suffix, "dialogue", {"command": command, "steps": steps})
        )
        if root == "check50.c.valgrind":
            check.tests.append(_valgrind_test(check, command, steps))

    def _step(self, method: str, call: ast.Call, local: dict[str, Any]) -> dict[str, Any]:
        match method:
            case "stdin":
                a = self._args(call, ("line", "str_line", "prompt", "timeout"), local)
                step: dict[str, Any] = (
                    {"send_eof": True} if a["line"] is EOF else {"send": str(a["line"])}
                )
                if "prompt" in a:
                    step["prompt"] = bool(a["prompt"])
                if a.get("str_line") is not None:
                    step["shown"] = str(a["str_line"])
            case "stdout":
                a = self._args(
                    call, ("output", "str_output", "regex", "timeout", "show_timeout"), local
                )
                if a.get("output") is None:
                    raise Untranslatable(call, "stdout() whose output is used in Python")
                output = a["output"]
                if output is EOF:
                    step = {"expect_eof": True}
                elif isinstance(output, int | float) and not isinstance(output, bool):
                    step = {"expect_regex": decimal(output)}
                elif a.get("regex", True):
                    step = {"expect_regex": str(output)}
                else:
                    step = {"expect": str(output)}
                if a.get("str_output") is not None:
                    step["shown"] = str(a["str_output"])
            case "reject":
                a = self._args(call, ("timeout",), local)
                step = {"reject": True}
            case "exit":
                a = self._args(call, ("code", "timeout"), local)
                code = a.get("code")
                step = {"exit": "any" if code is None else int(code)}
            case "kill":
                return {}  # the program is stopped after the last step anyway
            case _:
                raise Untranslatable(call, f"the method .{method}()")
        if a.get("timeout") is not None:
            step["timeout_s"] = float(a["timeout"])
        return step


def _import_test(check: Check, path: str) -> Test:
    name = Path(path).stem
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location({name!r}, {path!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
    )
    return Test(check.description, "script", {"command": ["python3", "-c", code]})


def _valgrind_test(check: Check, command: list[str], steps: list[dict[str, Any]]) -> Test:
    """The memory half of a valgrind chain: its input, its exit status, valgrind as check50
    runs it (every leak kind shown, any error fails)."""
    sent = [s["send"] for s in steps if "send" in s]
    exits = [s["exit"] for s in steps if "exit" in s]
    options: dict[str, Any] = {
        "command": command,
        "fail_on": "any",  # every error and leak kind, as --show-leak-kinds=all in check50
        "exit_code": exits[-1] if exits else "any",
    }
    if sent:
        options["stdin"] = "".join(f"{line}\n" for line in sent)
    return Test(f"{check.description} (valgrind)", "valgrind", options)


def simple_checks(checks: dict[str, Any]) -> list[Check]:
    """check50's simple YAML checks (``checks:`` in ``.cs50.yml``): each a list of runs
    with ``run``, ``stdin`` (sent without waiting for a prompt), ``stdout`` (exact text)
    and ``exit`` (any status when left out), as check50 compiles them."""
    found = []
    for label, runs in checks.items():
        name = re.sub(r"[ -]", "_", str(label))
        name = f"_{name}" if name[:1].isdigit() else name
        check = Check(name, str(label), None, 0)
        if not isinstance(runs, list) or not runs:
            check.problems.append(Problem(f"{CONFIG}: checks.{label}", "not a list of runs"))
        for index, run in enumerate(runs if isinstance(runs, list) else []):
            where = f"{CONFIG}: checks.{label}[{index}]"
            if not isinstance(run, dict) or "run" not in run or set(run) - SIMPLE_KEYS:
                check.problems.append(
                    Problem(where, "a run needs run, and only stdin, stdout, exit")
                )
                continue
            steps: list[dict[str, Any]] = []
            if "stdin" in run:
                steps.append({"send": _simple_text(run["stdin"]), "prompt": False})
            if "stdout" in run:
                steps.append({"expect": _simple_text(run["stdout"])})
            code = run.get("exit")
            steps.append({"exit": "any" if code is None else int(code)})
            suffix = f" ({index + 1})" if len(runs) > 1 else ""
            options = {"command": command_argv(str(run["run"])), "steps": steps}
            check.tests.append(Test(f"{label}{suffix}", "dialogue", options))
        found.append(check)
    return found


def _simple_text(value: Any) -> str:
    return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)


def read_checks(folder: Path) -> list[Check]:
    """The checks of ``folder/__init__.py``, in the file's order."""
    path = folder / CHECKS_FILE
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=CHECKS_FILE)
    reader = _Reader(tree, folder, CHECKS_FILE)
    return reader.checks(tree)
