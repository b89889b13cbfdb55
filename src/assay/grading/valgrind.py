"""Valgrind memcheck: the command that runs a program under it, and its XML report read back.

The report comes back on the run's standard error (``--xml-fd``), and the
student's own standard error goes to a file. The report is untrusted: the
program under test shares a process and a user with valgrind and can write
into the same pipe (fd 3). So it is parsed with ``defusedxml`` under a size
cap, and every ``<kind>`` in the raw bytes must be one the parser saw as an
error element: an error hidden in a comment or CDATA the program wrote makes
the report unreadable, which fails the test. A report without valgrind's
closing ``FINISHED`` status (the program exec'd another one, or was killed)
is unreadable too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from assay.grading.outcome import Finding

WORKSPACE = "/work"
MAX_XML_BYTES = 8 * 1024 * 1024
MAX_FINDINGS = 50
STACK_FRAMES = 6
NUM_CALLERS = 12
MAX_TEXT_CHARS = 300
XML_FD = 3

# valgrind's names of leak kinds (--show-leak-kinds, --errors-for-leak-kinds) and its XML's
LEAK_KIND_NAMES = {
    "definite": "Leak_DefinitelyLost",
    "indirect": "Leak_IndirectlyLost",
    "possible": "Leak_PossiblyLost",
    "reachable": "Leak_StillReachable",
}
DEFAULT_LEAK_KINDS = ("definite", "indirect")
LEAK_KINDS = frozenset(LEAK_KIND_NAMES[k] for k in DEFAULT_LEAK_KINDS)
_RAW_KIND = re.compile(rb"<kind>\s*([A-Za-z_]{1,40})\s*</kind>")


class UnreadableReportError(ValueError):
    """The report is not a complete memcheck XML document (not an infrastructure error)."""


def leak_kinds(value: str | Sequence[str]) -> tuple[str, ...]:
    """Valgrind's leak-kind list (``"definite,indirect"``, ``"all"``, ``"none"``), checked.

    Raises ``ValueError`` naming the words valgrind accepts.
    """
    words = value.split(",") if isinstance(value, str) else list(value)
    words = [w.strip() for w in words if w.strip()]
    if words == ["all"]:
        return tuple(LEAK_KIND_NAMES)
    if words == ["none"]:
        return ()
    unknown = [w for w in words if w not in LEAK_KIND_NAMES]
    if unknown or not words:
        raise ValueError(
            f"unknown leak kind(s) {', '.join(map(repr, unknown)) or '(empty)'}: use a list of "
            f"{', '.join(LEAK_KIND_NAMES)}, or all, or none (valgrind's --show-leak-kinds)"
        )
    return tuple(k for k in LEAK_KIND_NAMES if k in words)  # valgrind's order, no repeats


def memcheck_argv(
    stderr_path: str, command: Sequence[str], kinds: Sequence[str] = DEFAULT_LEAK_KINDS
) -> list[str]:
    """``command`` under memcheck: the XML report on stderr, the program's stderr to a file.

    ``kinds``: the leak kinds reported (and counted as errors), in valgrind's words.

    A shell moves the run's stderr to fd 3 for valgrind (``--xml-fd``) and
    points fd 2 at ``stderr_path`` before valgrind starts; no shell parses
    ``command`` or the path (they are positional arguments).
    """
    valgrind = [
        "valgrind",
        "--tool=memcheck",
        "--xml=yes",
        f"--xml-fd={XML_FD}",
        "--leak-check=full",
        f"--show-leak-kinds={','.join(kinds) or 'none'}",
        f"--errors-for-leak-kinds={','.join(kinds) or 'none'}",
        "--child-silent-after-fork=yes",
        f"--num-callers={NUM_CALLERS}",
        "--error-limit=yes",
    ]
    script = f'exec {XML_FD}>&2 2>"$0"; exec ' + " ".join(valgrind) + ' "$@"'
    return ["sh", "-c", script, stderr_path, *command]


@dataclass(frozen=True)
class Frame:
    function: str
    file: str | None  # relative to the workspace when it is one of the student's files
    line: int | None
    obj: str | None
    in_workspace: bool

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file or self.obj
        return f"{self.function} ({where})" if where else self.function


@dataclass(frozen=True)
class MemcheckReport:
    """What memcheck found: every error and leak record, in report order."""

    findings: tuple[Finding, ...]
    fatal_signal: str | None = None  # e.g. "SIGSEGV", if a signal ended the program
    fatal_at: str | None = None  # "file:line" in the student's files where it struck

    def counted(
        self, *, leaks: bool, errors: bool, kinds: Sequence[str] = DEFAULT_LEAK_KINDS
    ) -> tuple[Finding, ...]:
        """The findings that fail a test with these options (``kinds``: leak kinds counted)."""
        counted_leaks = {LEAK_KIND_NAMES[k] for k in kinds} if leaks else set()
        out = []
        for finding in self.findings:
            is_leak = finding.kind.startswith("Leak_")
            if finding.kind in counted_leaks or (errors and not is_leak):
                out.append(finding)
        return tuple(out)


def parse_memcheck_xml(
    data: bytes, workspace: str = WORKSPACE, kinds: Sequence[str] = DEFAULT_LEAK_KINDS
) -> MemcheckReport:
    """Parse memcheck's XML (protocol 4); leak records of other than ``kinds`` are left out.

    Raises ``UnreadableReportError``.
    """
    if not data.strip():
        raise UnreadableReportError("valgrind wrote no report (the program did not start under it)")
    if len(data) > MAX_XML_BYTES:
        raise UnreadableReportError(f"valgrind's report is larger than {MAX_XML_BYTES} bytes")
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise UnreadableReportError(
            "valgrind's report is incomplete or unreadable (did the program exec another "
            f"program, get killed, or write to file descriptor {XML_FD}?): {exc}"
        ) from exc
    if root.tag != "valgrindoutput" or _text(root.find("protocoltool")) != "memcheck":
        raise UnreadableReportError("the report is not a memcheck report")
    states = [_text(s.find("state")) for s in root.findall("status")]
    if "FINISHED" not in states:
        raise UnreadableReportError(
            "valgrind's report is incomplete: the run did not finish under it"
        )
    errors = root.findall("error")
    parsed = Counter(_text(e.find("kind")) for e in errors)
    raw = Counter(m.group(1).decode() for m in _RAW_KIND.finditer(data))
    if raw - parsed:
        raise UnreadableReportError(
            "valgrind's report holds errors outside its structure: something wrote into it"
        )
    findings = [_finding(e, workspace) for e in errors[: MAX_FINDINGS * 4]]
    shown = {LEAK_KIND_NAMES[k] for k in kinds}
    kept = [f for f in findings if not f.kind.startswith("Leak_") or f.kind in shown]
    kept = kept[:MAX_FINDINGS]
    return MemcheckReport(tuple(kept), *_fatal_signal(root, workspace))


def _finding(error: Element, workspace: str) -> Finding:
    kind = _text(error.find("kind")) or "Unknown"
    frames = _frames(error.find("stack"), workspace)
    own = next((f for f in frames if f.in_workspace and f.line is not None), None)
    xwhat = error.find("xwhat")
    if xwhat is not None:
        message = _text(xwhat.find("text"))
        leaked = _int(xwhat.find("leakedbytes"))
    else:
        message = _text(error.find("what"))
        leaked = None
        aux = _text(error.find("auxwhat"))
        if aux:
            message += f" ({aux})"
    if own is not None:
        message += f" at {own.file}:{own.line}"
    return Finding(
        kind=kind,
        message=message or kind,
        file=own.file if own else None,
        line=own.line if own else None,
        bytes=leaked,
        stack=tuple(f.describe() for f in frames[:STACK_FRAMES]),
    )


def _frames(stack: Element | None, workspace: str) -> list[Frame]:
    if stack is None:
        return []
    frames = []
    for frame in stack.findall("frame")[:NUM_CALLERS]:
        directory = _text(frame.find("dir"))
        name = _text(frame.find("file"))
        path = f"{directory}/{name}" if directory and name else name
        prefix = workspace.rstrip("/") + "/"
        in_workspace = path.startswith(prefix) and not path[len(prefix) :].startswith(".assay-")
        shown = path[len(prefix) :] if in_workspace else (name or None)
        obj = _text(frame.find("obj"))
        frames.append(
            Frame(
                function=_text(frame.find("fn")) or "???",
                file=shown,
                line=_int(frame.find("line")),
                obj=obj.rsplit("/", 1)[-1] if obj else None,
                in_workspace=in_workspace,
            )
        )
    return frames


def _fatal_signal(root: Element, workspace: str) -> tuple[str | None, str | None]:
    fatal = root.find("fatal_signal")
    if fatal is None:
        return None, None
    name = _text(fatal.find("signame")) or "a signal"
    frames = _frames(fatal.find("stack"), workspace)
    own = next((f for f in frames if f.in_workspace and f.line is not None), None)
    return name, f"{own.file}:{own.line}" if own else None


def _text(element: Element | None) -> str:
    if element is None or element.text is None:
        return ""
    return element.text.strip()[:MAX_TEXT_CHARS]


def _int(element: Element | None) -> int | None:
    text = _text(element)
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)
