"""The ``prairielearn`` kind: a PrairieLearn Python question's ``tests/`` run unchanged.

``tests`` names the question's ``tests/`` directory in the package (``test.py``,
``ans.py``, ``setup_code.py``, ``data.json`` and any leading/trailing code). Its
files go read-only into a harness directory with ``pl_runner.py``, the spec
runner it builds on, and our own ``code_feedback`` / ``pl_helpers`` /
``pl_unit_test`` / ``pl_execute`` (``harness/prairielearn_api.py``). One row per
``test_*`` method of ``class Test``, named by its ``@name`` and worth its
``@points`` (1 without), scaled so the rows add up to the entry's ``points``;
each row scores its points x the fraction the test set with
``Feedback.set_score``. Results come back on the spec runner's authenticated
channel, never from the student's output.
"""

from __future__ import annotations

import ast
import hmac
import json
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr

from assay.errors import PackageError
from assay.grading.harness.pl_runner import PL_DIR, SHIMS, TESTS_DIR
from assay.grading.harness.spec_runner import (
    MAX_LINE_BYTES,
    MAX_MESSAGE_CHARS,
    PLAN_FILE,
    line_mac,
    shared_key,
    valid_public,
)
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.kinds.options import WorkspaceDir
from assay.grading.kinds.pyspec_channel import HostKey
from assay.grading.outcome import TestOutcome, TestStatus, Timing, decode, describe_run
from assay.grading.outcome import status_of_run as forced_status
from assay.grading.package import MANIFEST
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Limits, OutputPolicy

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.package import AssignmentPackage
    from assay.grading.spec import TestSpec

RUNNER = "pl_runner.py"
HARNESS_FILES = (RUNNER, "spec_runner.py")
API = "prairielearn_api.py"
REQUIRED = ("test.py", "ans.py", "setup_code.py", "data.json")
MAX_TESTS_FILES = 100
OUTPUT_TAIL_BYTES = 4 * 1024
STARTUP_S = 5.0
PER_TEST_OVERHEAD_S = 0.5
DEFAULT_POINTS = 1.0


@dataclass(frozen=True)
class PLTest:
    """A ``test_*`` method of ``class Test`` in ``test.py``."""

    method: str
    name: str
    points: float
    line: int


def find_pl_tests(source: str, filename: str = "test.py") -> tuple[PLTest, ...]:
    """The question's tests in unittest's order (sorted method names), from the AST.

    ``@points`` and ``@name`` must have literal arguments (a question's always do);
    anything else is a ``ValueError`` naming the line.
    """
    tree = ast.parse(source, filename=filename)
    case = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Test"), None)
    if case is None:
        raise ValueError(f"{filename} defines no class Test")
    found = []
    for node in case.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
            continue
        label, points = node.name, DEFAULT_POINTS
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Name):
                continue
            which = decorator.func.id
            if which not in {"name", "points"}:
                continue
            try:
                value = ast.literal_eval(decorator.args[0])
            except (ValueError, IndexError, TypeError, SyntaxError):
                raise ValueError(
                    f"{filename}:{decorator.lineno}: @{which} needs a literal argument"
                ) from None
            if which == "name" and isinstance(value, str):
                label = value
            elif which == "points" and isinstance(value, int | float) and value >= 0:
                points = float(value)
            else:
                raise ValueError(f"{filename}:{decorator.lineno}: @{which}({value!r}) is invalid")
        found.append(PLTest(node.name, label, points, node.lineno))
    return tuple(sorted(found, key=lambda t: t.method))


class PrairieLearnOptions(KindOptions):
    tests: str  # the question's tests/ directory, in the package
    student_dir: WorkspaceDir = "."  # where user_code.py is, in the workspace
    per_test_timeout_s: float = Field(default=10.0, gt=0, le=600)
    _found: tuple[PLTest, ...] = PrivateAttr(default=())

    @property
    def load_timeout_s(self) -> float:
        return max(20.0, 2 * self.per_test_timeout_s)


class PrairieLearnKind(TestKind[PrairieLearnOptions]):
    name = "prairielearn"
    Options = PrairieLearnOptions

    def check(
        self,
        options: PrairieLearnOptions,
        test: TestSpec,
        package: AssignmentPackage,
        *,
        key: str,
    ) -> None:
        folder = package.path(options.tests, key=f"{key}.tests")
        if not folder.is_dir():
            raise PackageError(f"{options.tests!r} is not a directory", file=MANIFEST,
                               key=f"{key}.tests")  # fmt: skip
        for required in REQUIRED:
            if not (folder / required).is_file():
                raise PackageError(
                    f"the question's tests have no {required}",
                    file=f"{options.tests}/{required}",
                    key=f"{key}.tests",
                    fix="a PrairieLearn question's tests/ holds test.py, ans.py and "
                    "setup_code.py; data.json is written by the importer",
                )
        try:
            found = find_pl_tests((folder / "test.py").read_text(encoding="utf-8"))
        except (SyntaxError, ValueError) as exc:
            raise PackageError(
                f"the question's test.py cannot be read: {exc}",
                file=f"{options.tests}/test.py",
                key=f"{key}.tests",
            ) from exc
        if not found:
            raise PackageError(
                "test.py's class Test has no test_* methods",
                file=f"{options.tests}/test.py",
                key=f"{key}.tests",
            )
        options._found = found

    def not_run(
        self, test: TestSpec, options: PrairieLearnOptions, message: str
    ) -> list[TestOutcome]:
        found = options._found or (PLTest("test", test.name, 1.0, 0),)
        return [replace(row, message=message) for row in self._rows(test, found)]

    def _rows(self, test: TestSpec, found: tuple[PLTest, ...]) -> list[TestOutcome]:
        total = sum(t.points for t in found)
        return [
            TestOutcome(
                name=f"{test.name} :: {t.name}",
                status=TestStatus.FAILED,
                score=0.0,
                max_score=test.points * t.points / total if total else 0.0,
                kind=self.name,
                visibility=test.visibility,
                group=test.group,
            )
            for t in found
        ]

    def run(
        self, ctx: GradingContext, test: TestSpec, options: PrairieLearnOptions
    ) -> list[TestOutcome]:
        folder = ctx.package.path(options.tests)
        found = find_pl_tests((folder / "test.py").read_text(encoding="utf-8"))
        key = HostKey.new()
        ids = [t.method for t in found]
        student_dir = "/work" if options.student_dir == "." else f"/work/{options.student_dir}"
        plan = {
            "ids": ids,
            "student_dir": student_dir,
            "timeout_s": options.per_test_timeout_s,
            "load_timeout_s": options.load_timeout_s,
            "host_public": key.public_hex,
        }
        harness = ctx.put_harness(_harness_files(folder, plan))
        result = ctx.run_student(
            ["python3", "-I", f"/work/{harness}/{RUNNER}", f"/work/{harness}"],
            cwd=options.student_dir,
            limits=_limits(ctx.limits, len(ids), options),
            output_policy=OutputPolicy.TRUNCATE,
        )
        records, notes, forged = read_records(result.stdout, key, ids)
        output = decode(result.stderr[-OUTPUT_TAIL_BYTES:]) if result.stderr else ""
        rows = []
        for row, planned in zip(self._rows(test, found), found, strict=True):
            rows.append(_judge(replace(row, output=output), records.get(planned.method), result))
        if forged:
            note = f"tampering: {forged} forged line(s) on the result channel; every test scores 0"
            return [
                replace(r, status=TestStatus.FAILED if r.passed else r.status, score=0.0,
                        tampered=True, staff_detail=f"{note}\n{r.staff_detail or ''}".strip())
                for r in rows
            ]  # fmt: skip
        if notes:
            text = "\n".join(notes)
            rows = [
                replace(r, staff_detail=f"{r.staff_detail or ''}\n{text}".strip()) for r in rows
            ]
        return rows


def _harness_files(folder: Any, plan: dict[str, Any]) -> dict[str, bytes]:
    harness = resources.files("assay.grading.harness")
    files = {name: harness.joinpath(name).read_bytes() for name in HARNESS_FILES}
    files[f"{PL_DIR}/{API}"] = harness.joinpath(API).read_bytes()
    for shim in SHIMS:
        files[f"{PL_DIR}/{shim}.py"] = b"from prairielearn_api import *  # noqa: F403\n"
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            count += 1
            if count > MAX_TESTS_FILES:
                raise PackageError(f"the question's tests have more than {MAX_TESTS_FILES} files")
            rel = PurePosixPath(path.relative_to(folder).as_posix())
            files[f"{TESTS_DIR}/{rel}"] = path.read_bytes()
    files[PLAN_FILE] = json.dumps(plan).encode()
    return files


def _limits(limits: Limits, count: int, options: PrairieLearnOptions) -> Limits:
    budget = STARTUP_S + options.load_timeout_s
    budget += count * (options.per_test_timeout_s + PER_TEST_OVERHEAD_S)
    return limits.replace(
        wall_time_s=max(limits.wall_time_s, budget), cpu_time_s=max(limits.cpu_time_s, budget)
    )


def read_records(
    stdout: bytes, key: HostKey, ids: list[str]
) -> tuple[dict[str, dict[str, Any]], list[str], int]:
    """The runner's authenticated records by test id, notes, and how many lines were forged."""
    records: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    forged = 0
    *lines, tail = stdout.split(b"\n")
    if tail:
        notes.append("the result channel ends in an incomplete line")
    shared = None
    if lines:
        try:
            public = int(json.loads(lines[0])["hello"], 16)
            shared = shared_key(public, key.secret) if valid_public(public) else None
        except (ValueError, KeyError, TypeError):
            shared = None
    if shared is None:
        notes.append("the result channel does not start with the runner's handshake")
        return records, notes, forged
    seq = 0
    for line in lines[1:]:
        payload, tab, mac = line.rpartition(b"\t")
        expected = line_mac(shared, seq, payload).encode()
        if not tab or len(line) > MAX_LINE_BYTES or not hmac.compare_digest(expected, mac):
            forged += 1
            continue
        seq += 1
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(data, dict) or data.get("done") is True:
            continue
        test_id = data.get("id")
        if test_id in ids and test_id not in records:
            records[str(test_id)] = data
        else:
            notes.append(f"an unexpected result for {str(test_id)[:80]!r}")
    return records, notes, forged


def _judge(row: TestOutcome, record: dict[str, Any] | None, result: RunResult) -> TestOutcome:
    if record is None:
        return replace(
            row,
            status=forced_status(result) or TestStatus.FAILED,
            message=f"no result: the test run ended early ({describe_run(result)})",
        )
    outcome = record.get("outcome")
    message = record.get("message")
    message = message[: MAX_MESSAGE_CHARS + 3] if isinstance(message, str) else ""
    wall = record.get("wall_s")
    timing = Timing(
        wall_s=float(wall) if isinstance(wall, int | float) and math.isfinite(wall) else 0.0,
        peak_memory_bytes=result.peak_memory_bytes,
    )
    fraction = record.get("fraction")
    if not isinstance(fraction, int | float) or isinstance(fraction, bool):
        fraction = 0.0
    fraction = min(1.0, max(0.0, float(fraction))) if math.isfinite(fraction) else 0.0
    score = round(row.max_score * fraction, 6)
    detail = f"{outcome}; set_score fraction {fraction:g}"
    if outcome == "timeout":
        return replace(row, status=TestStatus.TIMEOUT, message=message, timing=timing)
    if outcome == "crashed":
        return replace(row, status=TestStatus.CRASHED, message=message, timing=timing)
    if outcome not in {"passed", "failed", "error", "skipped"}:
        return replace(row, message="the test's result was malformed", timing=timing)
    full = fraction >= 1.0 and outcome == "passed"
    return replace(
        row,
        status=TestStatus.PASSED if full else TestStatus.FAILED,
        score=row.max_score if full else score,
        message=message,
        timing=timing,
        staff_detail=detail,
    )
