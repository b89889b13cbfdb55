"""Compiler and interpreter messages turned into diagnostics (file, line, column).

Understands gcc, g++ and clang (``file:line[:col]: severity: message`` and GNU
ld / lld link errors), javac (``File.java:12: error: ...`` with its caret line
for the column), make (``Makefile:3: *** ...``) and Python (SyntaxError family
from ``py_compile`` or an import, other tracebacks: the last frame in the
workspace). The log is untrusted text: lines and messages are bounded, and
paths are made relative to the workspace; files outside it are reduced to
``<system>/<name>`` so no host path reaches a report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from assay.grading.outcome import Diagnostic, Severity

MAX_DIAGNOSTICS = 200
MAX_MESSAGE_CHARS = 500
MAX_LINE_CHARS = 4096
WORKSPACE_PREFIX = "/work/"
SYSTEM_MARK = "<system>"

_FILE = r"(?P<file>[^\s:][^:]*?)"
_COMPILER = re.compile(
    _FILE + r":(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<sev>fatal error|error|warning|note): (?P<msg>.*)$"
)
_PY_WARNING = re.compile(_FILE + r":(?P<line>\d+): (?P<cat>[A-Z]\w*Warning): (?P<msg>.*)$")
_MAKE = re.compile(_FILE + r":(?P<line>\d+): \*\*\* (?P<msg>.*)$")
_LINK = re.compile(
    r"(?:\S*ld(?:\.\w+)?: )?(?:" + _FILE + r":(?:(?P<line>\d+)|\([^)]*\)):? )?"
    r"(?P<msg>(?:undefined reference to|multiple definition of) .*)$"
)
_LINK_OTHER = re.compile(
    r"\S*ld(?:\.\w+)?: (?:error: )?(?P<msg>cannot find .*|undefined symbol: .*)$"
)
_LLD_REF = re.compile(r">>> referenced by " + _FILE + r":(?P<line>\d+)")
_DRIVER = re.compile(
    r"(?P<tool>cc1|cc1plus|cc|gcc|g\+\+|c\+\+|clang|clang\+\+|javac|collect2)?:? ?"
    r"(?P<sev>fatal error|error|warning): (?P<msg>.*)$"
)
_COMMAND = re.compile(r"\$ (?:\S*/)?(?P<tool>\S+)")
_CARET = re.compile(r"^\s*[\^~]+[\^~ ]*$")
_JAVAC_DETAIL = re.compile(r"  (?:symbol|location|required|found|reason)\s*:")
_PY_TRACEBACK = "Traceback (most recent call last):"
_PY_FRAME = re.compile(r'  File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?$')
_PY_EXCEPTION = re.compile(r"(?P<exc>[A-Za-z_][\w.]*)(?::(?: (?P<msg>.*))?)?$")
_PY_SORRY = re.compile(
    r"Sorry: (?P<exc>\w+): (?P<msg>.*) \((?P<file>[^()]+), line (?P<line>\d+)\)$"
)
_PY_SYNTAX = ("SyntaxError", "IndentationError", "TabError")
_COMPILERS = frozenset({"gcc", "g++", "cc", "c++", "clang", "clang++", "javac"})
_DEFAULT_TOOL = {"c": "gcc", "cpp": "g++", "java": "javac", "python3": "python"}
_SEVERITY = {
    "fatal error": Severity.ERROR,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "note": Severity.NOTE,
}


def workspace_path(raw: str) -> str | None:
    """``raw`` relative to the workspace, or ``None`` when it lies outside it."""
    path = raw.strip()
    if path.startswith(WORKSPACE_PREFIX):
        path = path[len(WORKSPACE_PREFIX) :]
    elif path.startswith(("/", "<")) or not path:
        return None
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) or None


def report_path(raw: str) -> str:
    """The path a report shows: workspace-relative, or ``<system>/<name>`` outside it."""
    inside = workspace_path(raw)
    if inside is not None:
        return inside
    name = raw.strip().rstrip("/").rsplit("/", 1)[-1]
    return f"{SYSTEM_MARK}/{name}" if name and not name.startswith("<") else SYSTEM_MARK


def _message(text: str) -> str:
    text = text.replace(WORKSPACE_PREFIX, "").strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


@dataclass
class _Frame:
    file: str
    line: int
    func: str | None
    shown: str | None = None  # the source line as Python displayed it
    caret: int | None = None  # index of the first caret in its caret line


@dataclass
class _Parser:
    environment: str
    sources: Mapping[str, bytes]
    found: list[Diagnostic] = field(default_factory=list)
    tool: str = ""
    frames: list[_Frame] | None = None  # inside a Python traceback
    javac: int = 0  # lines of javac context still expected after a diagnostic
    javac_line: str = ""

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.found and len(self.found) < MAX_DIAGNOSTICS:
            self.found.append(diagnostic)

    def compiler_tool(self, file: str) -> str:
        if file.endswith(".java"):
            return "javac"
        return self.tool or _DEFAULT_TOOL.get(self.environment, "")

    def feed(self, line: str, following: str) -> None:
        """Parse one line; ``following`` is the next line (a caret there marks a source echo)."""
        line = line[:MAX_LINE_CHARS].rstrip("\r")
        if self.frames is not None and self._python(line):
            return
        if self.javac and self._javac_context(line):
            return
        self.javac = 0
        if line.startswith("$ "):
            command = _COMMAND.match(line)
            name = command.group("tool") if command else ""
            self.tool = name if name in _COMPILERS else ""
            return
        if line == _PY_TRACEBACK:
            self.frames = []
        elif _PY_FRAME.match(line):
            self.frames = []
            self._python(line)
        elif match := _COMPILER.match(line):
            self._compiler(match)
        elif match := _LINK.match(line):
            self._link(match.group("file"), match.group("line"), match.group("msg"))
        elif match := _LINK_OTHER.match(line):
            self._link(None, None, match.group("msg"))
        elif (match := _LLD_REF.search(line)) and self.found and self.found[-1].tool == "ld":
            last = self.found[-1]
            if not last.file:
                self.found[-1] = replace(
                    last, file=report_path(match.group("file")), line=int(match.group("line"))
                )
        elif match := _PY_SORRY.match(line):
            self._python_error(
                match.group("exc"), match.group("msg"), match.group("file"), match.group("line")
            )
        elif match := _PY_WARNING.match(line):
            self._located(match, Severity.WARNING, f"{match.group('cat')}: {match.group('msg')}")
        elif match := _MAKE.match(line):
            self._located(match, Severity.ERROR, match.group("msg"), tool="make")
        elif (match := _DRIVER.match(line)) and not _CARET.match(following[:MAX_LINE_CHARS]):
            self._driver(match)  # (clang echoes source lines such as a label "error:")

    def _located(
        self, match: re.Match[str], severity: Severity, message: str, tool: str = "python"
    ) -> None:
        self.add(
            Diagnostic(
                report_path(match.group("file")),
                int(match.group("line")),
                None,
                severity,
                _message(message),
                tool,
            )
        )

    def _compiler(self, match: re.Match[str]) -> None:
        raw_file = match.group("file")
        severity = _SEVERITY[match.group("sev")]
        if severity is Severity.NOTE and workspace_path(raw_file) is None:
            return  # notes inside system headers: candidates, instantiation chains
        column = match.group("col")
        diagnostic = Diagnostic(
            report_path(raw_file),
            int(match.group("line")),
            int(column) if column else None,
            severity,
            _message(match.group("msg")),
            self.compiler_tool(raw_file),
        )
        self.add(diagnostic)
        if raw_file.endswith(".java") and self.found and self.found[-1] == diagnostic:
            self.javac, self.javac_line = 3, ""

    def _javac_context(self, line: str) -> bool:
        """javac follows a diagnostic with the source line, a caret line and details."""
        last = self.found[-1]
        if self.javac == 3:
            self.javac, self.javac_line = 2, line
            return True
        if self.javac == 2 and _CARET.match(line) and "^" in line:
            self.javac = 1
            self.found[-1] = replace(last, column=line.index("^") + 1)
            return True
        if _JAVAC_DETAIL.match(line):
            detail = " ".join(line.split())
            self.found[-1] = replace(last, message=_message(f"{last.message} ({detail})"))
            return True
        return False

    def _link(self, raw_file: str | None, line: str | None, message: str) -> None:
        file = ""
        if raw_file is not None and workspace_path(raw_file) is not None:
            file = report_path(raw_file)
        message = message.split("; ", 1)[0]
        self.add(
            Diagnostic(
                file,
                int(line) if line and file else None,
                None,
                Severity.ERROR,
                _message(message),
                "ld",
            )
        )

    def _driver(self, match: re.Match[str]) -> None:
        message = match.group("msg")
        linker_summary = "ld returned" in message or "linker command failed" in message
        if linker_summary and any(d.tool == "ld" for d in self.found):
            return
        tool = match.group("tool") or self.tool or _DEFAULT_TOOL.get(self.environment, "")
        self.add(Diagnostic("", None, None, _SEVERITY[match.group("sev")], _message(message), tool))

    # -- Python ------------------------------------------------------------------
    def _python(self, line: str) -> bool:
        """Feed a line inside a traceback; ``False`` when the traceback has ended."""
        frames = self.frames
        if frames is None:
            return False
        if frame := _PY_FRAME.match(line):
            frames.append(
                _Frame(frame.group("file"), int(frame.group("line")), frame.group("func"))
            )
        elif frames and line.startswith("    "):
            last = frames[-1]
            if _CARET.match(line) and last.shown is not None and last.caret is None:
                last.caret = len(line) - len(line.lstrip())
            elif last.shown is None:
                last.shown = line
        elif frames and (exception := _PY_EXCEPTION.match(line)):
            self.frames = None
            self._python_exception(frames, exception.group("exc"), exception.group("msg") or "")
        elif not (frames and line.startswith(("  ", "[Previous line"))):
            self.frames = None
            return False
        return True

    def _python_exception(self, frames: list[_Frame], exc: str, message: str) -> None:
        if exc.rsplit(".", 1)[-1] in _PY_SYNTAX:
            where: _Frame | None = frames[-1]
        else:
            inside = [f for f in frames if workspace_path(f.file) is not None]
            where = inside[-1] if inside else None
        file = report_path(where.file) if where else ""
        line = where.line if where else None
        column = self._python_column(where) if where else None
        text = f"{exc}: {message}" if message else exc
        self.add(Diagnostic(file, line, column, Severity.ERROR, _message(text), "python"))

    def _python_error(self, exc: str, message: str, file: str, line: str) -> None:
        text = _message(f"{exc}: {message}")
        self.add(Diagnostic(report_path(file), int(line), None, Severity.ERROR, text, "python"))

    def _python_column(self, frame: _Frame) -> int | None:
        """Python shows a line without its indentation: the source tells how much it removed."""
        if frame.caret is None or frame.shown is None:
            return None
        path = workspace_path(frame.file)
        data = self.sources.get(path) if path else None
        if data is None:
            return None
        lines = data.decode("utf-8", errors="replace").splitlines()
        if not 0 < frame.line <= len(lines):
            return None
        source = lines[frame.line - 1]
        removed = len(source) - len(source.lstrip(" \t\f"))
        shown_indent = len(frame.shown) - len(frame.shown.lstrip())
        offset = frame.caret - shown_indent
        return removed + offset + 1 if offset >= 0 else None


def parse_diagnostics(
    text: str, environment: str, *, sources: Mapping[str, bytes] | None = None
) -> list[Diagnostic]:
    """The diagnostics found in a build log, in order, at most ``MAX_DIAGNOSTICS``.

    ``sources`` (workspace path -> content) lets Python's caret give an exact
    column; without it, Python diagnostics have no column.
    """
    parser = _Parser(environment, sources or {})
    lines = text.splitlines()
    for index, line in enumerate(lines):
        parser.feed(line, lines[index + 1] if index + 1 < len(lines) else "")
        if len(parser.found) >= MAX_DIAGNOSTICS:
            break
    return parser.found


__all__ = ["MAX_DIAGNOSTICS", "parse_diagnostics", "report_path", "workspace_path"]
