"""picobytes' execute-and-test request: its schema and its run on a worker.

The request is graded by the grading engine itself: it becomes a small assignment,
built in memory as typed specs (the student's ``code`` as ``solution.c`` or
``solution.py``, the ``tests`` as an ``asserts`` test, a ``valgrind`` test for C,
``whitelisted``/``blacklisted`` as static rules), so compilation, per-assert
processes, valgrind parsing and the static checks are the ones assignments use.
``run`` is picobytes' runner for the execution core (``core.run_execution_job``).
See docs/code-execution.md.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.errors import GradingError, InvalidRequestError
from assay.files.fileset import FileSet
from assay.grading import static
from assay.grading.engine import grade
from assay.grading.kinds.asserts import AssertsOptions
from assay.grading.kinds.asserts_c import parse_c_assert
from assay.grading.kinds.asserts_py import parse_python_assert
from assay.grading.kinds.base import KindOptions
from assay.grading.kinds.script import ScriptOptions
from assay.grading.kinds.valgrind import ValgrindOptions
from assay.grading.loader import package_from_spec
from assay.grading.outcome import BuildStatus, FailureCause, Finding, TestOutcome, TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.grading.spec import (
    AssignmentMeta,
    AssignmentSpec,
    BuildSpec,
    StaticEffect,
    StaticSpec,
    TestSpec,
)
from assay.sandbox.limitspec import LimitsSpec
from assay.sandbox.spec import parse_size
from assay.services.execution.picobytes_languages import (
    ASSERT_LANGUAGES,
    NAMES,
    PROGRAM_LANGUAGES,
    canonical,
    program_spec,
    source_file,
)
from assay.services.platform import Platform

MAX_CODE_BYTES = 256 * 1024
MAX_TESTS = 200
MAX_NAMES = 200
MAX_OUTPUT_CHARS = 64 * 1024
RUN_FAILURES = frozenset(
    {TestStatus.TIMEOUT, TestStatus.MEMORY_LIMIT, TestStatus.OUTPUT_LIMIT, TestStatus.CRASHED}
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::)[A-Za-z_][A-Za-z0-9_]*)*\Z")
_TRACEBACK_LINE = re.compile(r'File "/work/solution\.py", line (\d+)')
_FATAL_AT = re.compile(r"\bat solution\.c:(\d+)")


# --- the schema -----------------------------------------------------------------------


class ExecuteRequest(BaseModel):
    """picobytes' input schema (field names as picobytes spells them), plus ``language``."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, description="The functions to test (no main).")]
    tests: str | list[str] | None = Field(
        default=None,
        description=(
            "Test cases, one `assert(func(x) == y)` per line (a string), or a list of them. "
            "Blank lines and lines starting with # or // are skipped."
        ),
    )
    timeout: int = Field(default=15, ge=1, le=120, description="Total time limit, seconds.")
    perTestTimeout: int = Field(  # noqa: N815 - picobytes' field name
        default=5, ge=1, le=60, description="Time limit of each test, seconds."
    )
    whitelisted: list[str] | None = Field(
        default=None, description="Only these functions or imports may be used."
    )
    blacklisted: list[str] | None = Field(
        default=None, description="These functions or imports must not be used."
    )
    language: str = Field(
        default="c",
        description=(
            "Assay extension: `c` (picobytes' language), `python` or `python-scientific` "
            "(with tests), or a language run as a whole program without tests: "
            + ", ".join(f"`{name}`" for name in PROGRAM_LANGUAGES)
            + "."
        ),
        json_schema_extra={"enum": list(NAMES)},
    )

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: Any) -> Any:
        value = canonical(value)
        if isinstance(value, str) and value not in NAMES:
            raise ValueError(f"unknown language {value!r}; known: {', '.join(NAMES)}")
        return value

    @field_validator("code")
    @classmethod
    def _code_size(cls, value: str) -> str:
        if len(value.encode()) > MAX_CODE_BYTES:
            raise ValueError(f"code is larger than {MAX_CODE_BYTES} bytes")
        if "\x00" in value:
            raise ValueError("code must not contain NUL characters")
        return value

    @field_validator("whitelisted", "blacklisted")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if len(value) > MAX_NAMES:
            raise ValueError(f"at most {MAX_NAMES} names")
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a function or module name (like printf, os.system)"
                )
        return value

    def test_lines(self) -> list[str]:
        """The asserts, one per entry, blank and comment lines dropped."""
        if self.language in PROGRAM_LANGUAGES and (
            self.tests or self.whitelisted or self.blacklisted
        ):
            raise InvalidRequestError(
                f"{self.language} code is run as a whole program: tests, whitelisted and "
                f"blacklisted are for {', '.join(ASSERT_LANGUAGES)} only"
            )
        if self.tests is None:
            return []
        if isinstance(self.tests, str):
            raw = self.tests.splitlines()
        else:
            raw = list(self.tests)
            if any("\n" in t or "\r" in t for t in raw):
                raise InvalidRequestError("each test in a list must be one line")
        lines = [line.strip() for line in raw]
        lines = [t for t in lines if t and not t.startswith(("#", "//"))]
        if len(lines) > MAX_TESTS:
            raise InvalidRequestError(f"at most {MAX_TESTS} tests per request")
        # the checks the package's asserts test makes when it is loaded (in the worker)
        parse = parse_c_assert if self.language == "c" else parse_python_assert
        for number, line in enumerate(lines, 1):
            if len(line.splitlines()) != 1:  # it is written to a file, read back by lines
                raise InvalidRequestError(f"test {number} is not one line")
            try:
                parse(line)
            except ValueError as exc:
                raise InvalidRequestError(f"test {number} ({line!r}): {exc}") from None
        return lines


class ExecuteResult(BaseModel):
    """picobytes' output schema."""

    build: bool = Field(description="The code was accepted and built with its tests.")
    compile: bool = Field(description="The compiler (or Python's parser) accepted the code.")
    run: bool = Field(description="The tests ran without crashing or running out of time.")
    output: str = Field(description="What the tests printed, and the messages of failures.")
    compilation_time: float = Field(description="Seconds spent compiling.")
    run_time: float = Field(description="Seconds spent running the tests.")
    valgrind: str = Field(description="Valgrind's findings, readable (C only; else empty).")
    formatted_response: list[str] = Field(
        description="Errors in the submitted code, each as `line N: message`."
    )
    failed_tests: list[int] = Field(description="Numbers (from 1) of the tests that failed.")


# --- the run (on a worker): the request as an assignment --------------------------------


def run(platform: Platform, stored: dict[str, Any]) -> dict[str, Any]:
    """Grade a stored request (the core's runner for picobytes); returns the stored result.

    The tests first, then (C) valgrind over the tests that ended.
    """
    request = ExecuteRequest.model_validate(stored)
    tests = request.test_lines()
    program = PROGRAM_LANGUAGES.get(request.language)
    if program is not None:
        spec = program_spec(program, min(request.perTestTimeout, request.timeout))
        report = _grade(platform, request, _Package(spec, {}))
        return _to_result(request, [], report, None).model_dump(mode="json")
    c = request.language == "c"
    source = source_file(request.language)
    # a forbidden name in the source: compile (for the diagnostics), run nothing
    refused = static.check_sources(
        StaticSpec(
            blacklist=tuple(request.blacklisted or ()),
            whitelist=tuple(request.whitelisted or ()),
            files=(source,),
        ),
        "c" if c else "python3",
        {source: request.code.encode()},
    )
    report = _grade(
        platform, request, _package(request, tests if not refused else [], run=not refused)
    )
    valgrind: GradeReport | None = None
    asserts = [t for t in report.tests if t.kind == "asserts"]
    if c and asserts and report.build.status is BuildStatus.PASSED:
        # valgrind runs every assert that ended by itself, crashes last (a crash ends the run)
        ended = [
            (t.status is TestStatus.CRASHED, text)
            for text, t in zip(tests, asserts, strict=False)
            if t.status not in (TestStatus.TIMEOUT, TestStatus.MEMORY_LIMIT)
            and t.cause is not FailureCause.COMPILE
        ]
        checked = [text for _, text in sorted(ended, key=lambda pair: pair[0])]
        if checked:
            valgrind = _grade(platform, request, _package(request, checked, valgrind=True))
    return _to_result(request, tests, report, valgrind).model_dump(mode="json")


def _grade(platform: Platform, request: ExecuteRequest, package: _Package) -> GradeReport:
    source = source_file(request.language)
    with tempfile.TemporaryDirectory(prefix="assay-execute-") as tmp:
        root = Path(tmp)
        for name, data in package.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data, encoding="utf-8")
        report = grade(
            package_from_spec(package.spec, root),
            FileSet.from_mapping({source: request.code}),
            backend=platform.backend,
            parallel_runs=platform.settings.grading_parallel_runs,
        )
    if report.status is ReportStatus.ERROR:
        raise GradingError(f"grading the execution failed: {report.staff_error or report.error}")
    return report


@dataclass(frozen=True)
class _Package:
    """A request's assignment, in memory: the spec and its support files (path -> text)."""

    spec: AssignmentSpec
    files: dict[str, str]


_PYTHON_CHECK = (
    "import sys; compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec')"
)


def _test(name: str, kind: str, options: KindOptions, limits: LimitsSpec | None = None) -> TestSpec:
    """A ``[[tests]]`` entry from a kind's typed options (only the options set)."""
    return TestSpec(
        name=name,
        kind=kind,
        limits=limits or LimitsSpec(),
        **options.model_dump(exclude_unset=True),
    )


def _package(
    request: ExecuteRequest, tests: list[str], *, run: bool = True, valgrind: bool = False
) -> _Package:
    """The package of a request: the asserts (``run``), or valgrind over ``tests``."""
    c = request.language == "c"
    source = source_file(request.language)
    per_test = min(request.perTestTimeout, request.timeout)
    commands: list[tuple[str, ...]]
    if c:
        commands = [("gcc", "-g", "-O0", "-Wall", "-c", source, "-o", "solution.o")]
        if valgrind:
            commands.append(("gcc", "-g", "-O0", "-w", "-o", "vgmain", "vgmain.c", "-lm"))
    else:
        commands = [("python3", "-I", "-B", "-c", _PYTHON_CHECK, source)]
    base = AssignmentSpec(
        assignment=AssignmentMeta(
            name="execute",
            title="Code execution request",
            environment=ASSERT_LANGUAGES[request.language],
        ),
        limits=LimitsSpec(cpu_time_s=per_test, wall_time_s=per_test, memory=parse_size("256M")),
        build=BuildSpec(
            commands=tuple(commands),
            required_files=(source,),
            limits=LimitsSpec(cpu_time_s=20, wall_time_s=30),
        ),
    )
    if valgrind:
        vg_wall = max(1, min(request.timeout, per_test * len(tests)))
        memcheck = _test(
            "valgrind",
            "valgrind",
            ValgrindOptions(command=("./vgmain",), exit_code="any", time_factor=3),
            LimitsSpec(cpu_time_s=vg_wall, wall_time_s=vg_wall),
        )
        spec = base.model_copy(update={"tests": (memcheck,)})
        return _Package(spec, {"support/vgmain.c": _valgrind_main(tests)})
    static = StaticSpec()
    if request.whitelisted or request.blacklisted:
        static = StaticSpec(
            blacklist=tuple(request.blacklisted or ()),
            whitelist=tuple(request.whitelisted or ()),
            effect=StaticEffect.FAIL_SUBMISSION,
            files=(source,),
        )
    entries: tuple[TestSpec, ...] = ()
    if tests:
        asserts = (
            AssertsOptions(asserts=tuple(tests), sources=(source,))
            if c
            else AssertsOptions(asserts=tuple(tests))
        )
        entries = (_test("tests", "asserts", asserts),)
    elif not c and run:
        entries = (_test("run", "script", ScriptOptions(command=("python3", source))),)
    return _Package(base.model_copy(update={"static": static, "tests": entries}), {})


def _valgrind_main(tests: list[str]) -> str:
    """One program that runs every assert once, for memcheck (verdicts come from the
    ``asserts`` test; this run only looks for leaks and memory errors)."""
    body = "\n".join(f"    (void)({_c_expression(t)});" for t in tests)
    return (
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "#include <stdbool.h>\n#include <math.h>\n#include <unistd.h>\n"
        "#define main assay_student_main\n"
        '#include "solution.c"\n'
        "#undef main\n"
        "int main(void) {\n"
        f"{body}\n"
        "    return 0;\n"
        "}\n"
    )


def _c_expression(line: str) -> str:
    """``assert(f(1) == 2);`` -> ``f(1) == 2`` (what the asserts kind tests)."""
    text = line.strip().rstrip(";").strip()
    if text.startswith("assert"):
        text = text[len("assert") :].strip()
    return text or "0"


def _to_result(
    request: ExecuteRequest,
    tests: list[str],
    report: GradeReport,
    valgrind: GradeReport | None,
) -> ExecuteResult:
    c = request.language == "c"
    source = source_file(request.language)
    build = report.build
    compiler_ok = build.status is BuildStatus.PASSED
    formatted: list[str] = []
    for d in build.diagnostics:
        if d.file.endswith(source) and d.line is not None:
            formatted.append(f"line {d.line}: {d.severity}: {d.message}")
    static_findings = report.static.findings if report.static else []
    for f in static_findings:
        message = f.message.removeprefix(f"{f.file}, line {f.line}: ")
        formatted.append(f"line {f.line}: {message}" if f.line is not None else message)
    asserts = [t for t in report.tests if t.kind == "asserts"]
    scripts = [t for t in report.tests if t.kind == "script"]
    failed = [i for i, t in enumerate(asserts, 1) if t.status is not TestStatus.PASSED]
    tests_compiled = not any(t.cause is FailureCause.COMPILE for t in asserts)
    output: list[str] = []
    if not compiler_ok:
        output.append(build.log)
    elif static_findings:
        output.append("".join(f"{f.message}\n" for f in static_findings))
    for number, test in enumerate(asserts, 1):
        if test.output:
            output.append(test.output if test.output.endswith("\n") else test.output + "\n")
        if test.status is not TestStatus.PASSED and compiler_ok:
            text = tests[number - 1] if number <= len(tests) else test.name
            output.append(f"test {number} failed: {text}: {test.message}\n")
            formatted += _runtime_lines(test, number)
    for script in scripts:
        output.append(script.output)
        if script.status is not TestStatus.PASSED:
            output.append(script.message + "\n")
            formatted += _runtime_lines(script, None)
    ran = [*asserts, *scripts]
    run_time = sum(t.timing.wall_s for t in ran)
    over_time = run_time > request.timeout
    if compiler_ok and over_time:
        output.append(f"the tests took longer than the total timeout ({request.timeout} s)\n")
    if compiler_ok and not ran:
        output.append(
            "nothing was run: the code uses names it must not\n"
            if static_findings
            else "no tests given: the code was compiled only\n"
        )
    valgrind_text = ""
    if c and tests and not static_findings:
        valgrind_text = _valgrind_text(valgrind, compiler_ok)
        for finding in _valgrind_findings(valgrind):
            if finding.line is not None and finding.file == source:
                formatted.append(f"line {finding.line}: valgrind: {finding.message}")
    return ExecuteResult(
        build=compiler_ok and tests_compiled and not static_findings,
        compile=compiler_ok,
        run=compiler_ok
        and bool(ran)
        and not over_time
        and not any(t.status in RUN_FAILURES for t in ran),
        output="".join(output)[-MAX_OUTPUT_CHARS:],
        compilation_time=round(build.timing.wall_s, 4),
        run_time=round(run_time, 4),
        valgrind=valgrind_text,
        formatted_response=formatted,
        failed_tests=failed,
    )


def _valgrind_findings(report: GradeReport | None) -> list[Finding]:
    if report is None:
        return []
    return [f for t in report.tests if t.kind == "valgrind" for f in t.findings]


def _valgrind_text(report: GradeReport | None, compiler_ok: bool) -> str:
    if not compiler_ok:
        return "valgrind was not run: the code does not compile"
    runs = [t for t in report.tests if t.kind == "valgrind"] if report else []
    if report is None or not runs:
        return "valgrind was not run: no test ended within its time limit"
    if report.build.status is not BuildStatus.PASSED:
        return "valgrind was not run: the tests do not compile together"
    run = runs[0]
    if run.status is TestStatus.PASSED:
        return "no leaks or memory errors found"
    if run.findings:
        return run.message
    return f"valgrind: {run.message}"


def _runtime_lines(test: TestOutcome, number: int | None) -> list[str]:
    """Where in the student's code a failing test went wrong, when the failure says so."""
    suffix = f" (test {number})" if number is not None else ""
    lines: list[str] = []
    match = list(_TRACEBACK_LINE.finditer(test.output))
    if match:
        last = test.output.strip().splitlines()[-1] if test.output.strip() else test.message
        lines.append(f"line {match[-1].group(1)}: {last}{suffix}")
    else:
        fatal = _FATAL_AT.search(test.message)
        if fatal:
            lines.append(f"line {fatal.group(1)}: {test.message.splitlines()[0]}{suffix}")
    return lines
