"""The ``asserts`` test kind: picobytes-style ``assert(func(x) == y)`` lines, one process each.

Python asserts are decided on the host from plain values the student's code
returns (``asserts_py``); C and C++ asserts run in one generated test program
(``asserts_c``). Points are split equally; each assert is its own outcome,
named ``<test name> :: <assert text>``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import field_validator, model_validator

from assay.errors import GradingError, PackageError, WorkspacePathError
from assay.grading.kinds.asserts_c import (
    CAssert,
    blamed_asserts,
    generate_program,
    parse_c_assert,
    passed_marker,
    without_marker,
)
from assay.grading.kinds.asserts_driver import DRIVER
from assay.grading.kinds.asserts_py import (
    PyAssert,
    evaluate,
    expected_actual,
    parse_frame,
    parse_python_assert,
    probe_values,
)
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.options import WorkspaceDir
from assay.grading.outcome import (
    FailureCause,
    TestOutcome,
    TestStatus,
    Timing,
    decode,
    describe_run,
    status_of_run,
)
from assay.grading.package import MANIFEST
from assay.grading.spec import Visibility
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.hostfiles import normalise_workspace_path
from assay.sandbox.result import RunResult

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

WORKSPACE = "/work"
MAX_ASSERTS = 500
NAME_CHARS = 160
OUTPUT_SHOWN_BYTES = 4 * 1024
BINARY_MAX_BYTES = 64 * 1024 * 1024
COMPILE_ROUNDS = 3
SOURCE_SUFFIXES = {"c": (".c",), "cpp": (".cpp", ".cc", ".cxx")}
COMPILERS = {"c": "gcc", "cpp": "g++"}


class AssertsOptions(KindOptions):
    asserts: tuple[str, ...] = ()
    asserts_file: str | None = None  # one assert per line; blank, '#' and '//' lines skipped
    module: str = "solution"  # python: the student's module
    module_dir: WorkspaceDir = "."  # python: where it lives in the workspace
    sources: tuple[str, ...] = ()  # C/C++: workspace files (default: every top-level source)
    header: str | None = None  # C/C++: package header declaring the functions (then sources
    #                            are compiled alongside instead of #included)
    cflags: tuple[str, ...] = ()

    @field_validator("asserts", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("module")
    @classmethod
    def _module_name(cls, value: str) -> str:
        if not all(part.isidentifier() for part in value.split(".")):
            raise ValueError(f"{value!r} is not a Python module name")
        return value

    @model_validator(mode="after")
    def _some_asserts(self) -> AssertsOptions:
        if not self.asserts and self.asserts_file is None:
            raise ValueError("give asserts = [...] or asserts_file")
        if self.asserts and self.asserts_file is not None:
            raise ValueError("give asserts or asserts_file, not both")
        return self


class AssertsKind(TestKind[AssertsOptions]):
    name = "asserts"
    Options = AssertsOptions

    def parse(self, test: TestSpec, package: AssignmentPackage, *, key: str) -> AssertsOptions:
        """Validate, and read ``asserts_file`` into ``asserts`` once, at load time."""
        options = super().parse(test, package, key=key)
        if options.asserts_file is None:
            return options
        text = package.path(options.asserts_file, key=f"{key}.asserts_file").read_text("utf-8")
        lines = tuple(
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("#", "//"))
        )
        parsed = options.model_copy(update={"asserts": lines})
        self._validate_asserts(parsed, package, key=f"{key}.asserts_file")
        return parsed

    def check(
        self, options: AssertsOptions, test: TestSpec, package: AssignmentPackage, *, key: str
    ) -> None:
        environment = package.environment.family
        if environment not in ("python3", "c", "cpp"):
            raise PackageError(
                f"asserts tests support python3, c and cpp, not {environment!r}",
                file=MANIFEST,
                key=f"{key}.kind",
                fix="use a python-unittest, io or script test for this language",
            )
        foreign = (
            {"sources", "header", "cflags"}
            if environment == "python3"
            else {"module", "module_dir"}
        )
        for option in sorted(foreign & options.model_fields_set):
            raise PackageError(
                f"{option} does not apply to {environment} asserts",
                file=MANIFEST,
                key=f"{key}.{option}",
                fix="remove it: module, module_dir are for Python; sources, header, cflags for C",
            )
        if options.header is not None:
            package.path(options.header, key=f"{key}.header")
        if options.asserts:
            self._validate_asserts(options, package, key=f"{key}.asserts")

    @staticmethod
    def _validate_asserts(options: AssertsOptions, package: AssignmentPackage, *, key: str) -> None:
        if not options.asserts:
            raise PackageError("there are no asserts", file=MANIFEST, key=key)
        if len(options.asserts) > MAX_ASSERTS:
            raise PackageError(f"more than {MAX_ASSERTS} asserts", file=MANIFEST, key=key)
        parse = parse_python_assert if package.environment.family == "python3" else parse_c_assert
        for index, text in enumerate(options.asserts):
            try:
                parse(text)
            except ValueError as exc:
                raise PackageError(
                    f"assert {index + 1} ({text!r}): {exc}", file=MANIFEST, key=key
                ) from exc

    # -- outcomes ----------------------------------------------------------------------
    def not_run(self, test: TestSpec, options: AssertsOptions, message: str) -> list[TestOutcome]:
        outcomes = [
            replace(o, status=TestStatus.SKIPPED, message=message) for o in _outcomes(test, options)
        ]
        return _labelled(test, options, outcomes)

    def run(
        self, ctx: GradingContext, test: TestSpec, options: AssertsOptions
    ) -> list[TestOutcome]:
        bases = _outcomes(test, options)
        if ctx.package.environment.family == "python3":
            outcomes = [
                _run_python(ctx, options, parse_python_assert(text), base)
                for text, base in zip(options.asserts, bases, strict=True)
            ]
        else:
            outcomes = _run_c(ctx, options, [parse_c_assert(t) for t in options.asserts], bases)
        return _labelled(test, options, outcomes)


def _outcomes(test: TestSpec, options: AssertsOptions) -> list[TestOutcome]:
    """One failed outcome per assert, with unique names and an equal share of the points.

    A name shows the assert's text, except in a hidden or after-due test, whose
    names a student always sees: there it is ``assert <n>`` (see ``_labelled``).
    """
    share = test.points / len(options.asserts) if options.asserts else 0.0
    seen: dict[str, int] = {}
    out = []
    for number, text in enumerate(options.asserts, 1):
        shown = text if len(text) <= NAME_CHARS else text[:NAME_CHARS] + "..."
        if test.visibility is not Visibility.VISIBLE:
            shown = f"assert {number}"
        name = f"{test.name} :: {shown}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f" (#{seen[name]})"
        out.append(
            TestOutcome(
                name=name,
                status=TestStatus.FAILED,
                score=0.0,
                max_score=share,
                kind="asserts",
                visibility=test.visibility,
                group=test.group,
            )
        )
    return out


def _labelled(
    test: TestSpec, options: AssertsOptions, outcomes: list[TestOutcome]
) -> list[TestOutcome]:
    """In a test whose contents are withheld, the assert's text opens the (withheld) message."""
    if test.visibility is Visibility.VISIBLE:
        return outcomes
    return [
        replace(o, message=f"{text}\n{o.message}" if o.message else text)
        for text, o in zip(options.asserts, outcomes, strict=True)
    ]


def _forced(base: TestOutcome, result: RunResult) -> TestOutcome | None:
    status = status_of_run(result)
    if status is None:
        return None
    return replace(base, status=status, message=describe_run(result))


# -- Python ----------------------------------------------------------------------------
def _run_python(
    ctx: GradingContext, options: AssertsOptions, parsed: PyAssert, base: TestOutcome
) -> TestOutcome:
    nonce = secrets.token_hex(16)
    module_dir = WORKSPACE if options.module_dir == "." else f"{WORKSPACE}/{options.module_dir}"
    argv = ["python3", "-I", "-B", "-c", DRIVER, nonce, module_dir, options.module]
    argv.append(json.dumps(list(parsed.probes)))
    result = ctx.run_student(argv)
    outcome = replace(
        base, timing=Timing.of(result), output=decode(result.stderr, OUTPUT_SHOWN_BYTES)
    )
    forced = _forced(outcome, result)
    if forced is not None:
        return forced
    frame = parse_frame(result.stdout, nonce) if result.ok else None
    if frame is None:
        return replace(
            outcome,
            message=f"the assert did not finish: your code {describe_run(result)} before it "
            "was decided (an early exit or a replaced stdout counts as a failure)",
        )
    if isinstance(frame.get("import_error"), str):
        return replace(
            outcome, message=f"importing {options.module} failed: {frame['import_error']}"
        )
    values = probe_values(frame, len(parsed.probes))
    if values is None:
        return replace(outcome, message="the values your code produced could not be read back")
    passed, why = evaluate(parsed, values)
    if passed:
        return replace(outcome, status=TestStatus.PASSED, score=outcome.max_score)
    shown = expected_actual(parsed, values)
    if shown is not None:
        outcome = replace(outcome, expected=shown[0], actual=shown[1])
    return replace(outcome, message=why)


# -- C and C++ -------------------------------------------------------------------------
def _run_c(
    ctx: GradingContext, options: AssertsOptions, asserts: list[CAssert], bases: list[TestOutcome]
) -> list[TestOutcome]:
    environment = ctx.package.environment.family
    sources = _sources(ctx, options, environment)
    if not sources:
        message = "no source files to test: the submission has no " + "/".join(
            SOURCE_SUFFIXES[environment]
        )
        return [replace(b, message=message) for b in bases]
    failures, binary = _compile(ctx, options, asserts, sources, environment)
    outcomes = []
    for index, base in enumerate(bases):
        if index in failures or binary is None:
            message = failures.get(index, "the asserts could not be compiled")
            outcomes.append(replace(base, message=message, cause=FailureCause.COMPILE))
            continue
        nonce = secrets.token_hex(16)
        result = ctx.run_student([binary, str(index), nonce])
        outcome = replace(
            base,
            timing=Timing.of(result),
            output=decode(without_marker(result.stdout, nonce) + result.stderr, OUTPUT_SHOWN_BYTES),
        )
        forced = _forced(outcome, result)
        if forced is not None:
            outcomes.append(forced)
        elif result.ok and passed_marker(result.stdout, nonce):
            outcomes.append(replace(outcome, status=TestStatus.PASSED, score=outcome.max_score))
        elif result.exit_code == 1:
            outcomes.append(replace(outcome, message="the assert is false"))
        else:
            outcomes.append(
                replace(outcome, message=f"your code {describe_run(result)} during the assert")
            )
    return outcomes


def _sources(ctx: GradingContext, options: AssertsOptions, environment: str) -> list[str]:
    if options.sources:
        return [normalise_workspace_path(s) for s in options.sources]
    names = ctx.sandbox.list_files(".")
    return [
        n
        for n in names
        if n.endswith(SOURCE_SUFFIXES[environment])
        and not n.startswith(".assay-")
        and not any(c in n for c in '"\\\n')
    ]


def _compile(
    ctx: GradingContext,
    options: AssertsOptions,
    asserts: list[CAssert],
    sources: list[str],
    environment: str,
) -> tuple[dict[int, str], str | None]:
    """Build the test program; returns failures per assert and the program's sandbox path."""
    cpp = environment == "cpp"
    header_files: dict[str, bytes] = {}
    if options.header is not None:
        header_path = ctx.package.path(options.header)
        header_files[header_path.name] = header_path.read_bytes()
    failures: dict[int, str] = {}
    active = list(range(len(asserts)))
    output = ""
    for _ in range(COMPILE_ROUNDS):
        if not active:
            return failures, None
        include_mode = options.header is None
        program = generate_program(
            asserts,
            active,
            cpp=cpp,
            includes=[f"{WORKSPACE}/{s}" for s in sources] if include_mode else (),
            header=None if include_mode else next(iter(header_files)),
        )
        suffix = ".cpp" if cpp else ".c"
        harness = ctx.put_harness({f"asserts{suffix}": program.encode(), **header_files})
        out_dir = f".assay-out-{secrets.token_hex(8)}"
        ctx.sandbox.add_entries([WorkspaceEntry(out_dir, EntryKind.DIR, mode=0o755)])
        argv = [COMPILERS[environment], "-g", "-O0", *options.cflags, "-o", f"{out_dir}/asserts"]
        argv.append(f"{harness}/asserts{suffix}")
        if not include_mode:
            argv += ["-Dmain=assay_student_main", *sources]
        argv.append("-lm")
        result = ctx.run_student(argv, limits=ctx.package.build_limits)
        output = decode(result.stdout + result.stderr, 64 * 1024)
        if result.ok:
            return failures, _seal(ctx, f"{out_dir}/asserts")
        blamed = {i: text for i, text in blamed_asserts(output).items() if i in active}
        if not blamed:
            break
        failures.update({i: f"this assert does not compile:\n{text}" for i, text in blamed.items()})
        active = [i for i in active if i not in blamed]
    message = "your code does not compile with the asserts:\n" + output
    return failures | {i: message for i in active}, None


def _seal(ctx: GradingContext, built: str) -> str:
    """Move the built program into a harness directory the student's code cannot change."""
    try:
        data = ctx.sandbox.read_file(built, max_bytes=BINARY_MAX_BYTES)
    except WorkspacePathError as exc:
        raise GradingError(
            f"the compiled asserts program could not be read: {exc.message}"
        ) from exc
    harness = ctx.put_harness({"asserts": data}, executable={"asserts"})
    return f"{WORKSPACE}/{harness}/asserts"
