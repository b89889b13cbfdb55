"""Runs a PrairieLearn Python question's ``tests/test.py`` against a student's code.

Started as ``python3 -I <harness>/pl_runner.py <harness>`` in the student's
sandbox. The processes and the result channel are the spec runner's
(``spec_runner.py``, next to this file): P never runs student code and alone
writes authenticated result lines; W loads the question (our own
``code_feedback``, ``pl_helpers``, ``pl_unit_test`` shims from ``pl/``, then
``test.py``), runs ``PLTestCase.setUpClass`` once (setup code, reference answer,
student code) and forks one W' per test, in unittest's order (sorted names).

What this adds to the spec runner: each W' reports the fraction of the test's
points it earned (the last ``Feedback.set_score``, 0 when never set, as in
PrairieLearn) and the feedback text; P passes the fraction on, checked (a
finite number in 0..1), and after a test that stopped grading
(``Feedback.finish``, ``GradingComplete``) the remaining tests are not run and
score 0, as in PrairieLearn.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import time
import traceback
import unittest
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.grading.harness import spec_runner
else:  # in the sandbox: the spec runner is a file next to this one
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    spec_runner = importlib.import_module("spec_runner")

PLAN_FILE = spec_runner.PLAN_FILE
PL_DIR = "pl"  # the shims and prairielearn_api.py
TESTS_DIR = "tests"  # test.py, ans.py, setup_code.py, data.json, ...
SHIMS = ("code_feedback", "pl_helpers", "pl_unit_test", "pl_execute")
STOPPED = "Grading was skipped because an earlier test stopped grading"
ERROR_MESSAGE = (
    "There was an error while grading your code.\n\n"
    "Review the question text to ensure your code matches the expected requirements, "
    "such as variable names, function names, and parameters.\n\n"
    "Look at the traceback below to help debug your code:\n"
)


# -- W and W' -----------------------------------------------------------------------------
class _Result(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.problem: tuple[str, BaseException | None, str] | None = None

    def _keep(self, kind: str, err: Any) -> None:
        if self.problem is None:
            text = "".join(traceback.format_exception(*err))
            self.problem = (kind, err[1], text)

    def addError(self, test: Any, err: Any) -> None:  # noqa: N802 - unittest's names
        self._keep("error", err)

    def addFailure(self, test: Any, err: Any) -> None:  # noqa: N802
        self._keep("failed", err)


def _run_one(api: Any, case: type[unittest.TestCase], method: str) -> dict[str, Any]:
    """One test in W': its outcome, fraction of its points and feedback."""
    feedback = api.Feedback
    feedback.reset()
    if not hasattr(case, method):
        return {"outcome": "error", "assertion": False, "message": "the test was not found"}
    test = case(method)
    result = _Result()
    test.run(result)
    fraction = getattr(test, "points", None)
    fraction = float(fraction) if isinstance(fraction, int | float) else 0.0
    record: dict[str, Any] = {"outcome": "passed", "assertion": False, "fraction": fraction}
    if result.problem is not None:
        kind, value, text = result.problem
        if isinstance(value, api.GradingComplete | api.TestComplete):
            record["outcome"] = "failed"
            record["stop"] = isinstance(value, api.GradingComplete)
        elif isinstance(value, api.DoNotRunError):
            record |= {"outcome": "failed", "fraction": 0.0}
        elif kind == "failed":
            record |= {"outcome": "failed", "assertion": True}
            feedback.add_feedback(text.strip().splitlines()[-1])
        else:
            record |= {"outcome": "error", "fraction": 0.0}
            feedback.add_feedback(ERROR_MESSAGE + text)
    record["message"] = feedback.collected()
    return record


def _load(harness: str, plan: dict[str, Any]) -> tuple[Any, type[unittest.TestCase]]:
    tests = os.path.join(harness, TESTS_DIR)
    os.environ["MERGE_DIR"] = plan["student_dir"]
    os.environ["FILENAMES_DIR"] = tests
    sys.path[:0] = [os.path.join(harness, PL_DIR), tests]
    sys.path.append(plan["student_dir"])  # last: the standard library always wins
    api = importlib.import_module("prairielearn_api")
    path = os.path.join(tests, "test.py")
    spec = importlib.util.spec_from_file_location("test", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test"] = module
    spec.loader.exec_module(module)
    case = module.Test
    if not (isinstance(case, type) and issubclass(case, unittest.TestCase)):
        raise TypeError("tests/test.py's Test is not a unittest.TestCase")
    return api, case


def _load_error(api: Any, exc: BaseException) -> str:
    """What students see when the question could not be loaded with their code."""
    failed = api is not None and isinstance(exc, api.UserCodeFailedError)
    if not failed:
        return "the tests could not be loaded: " + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)
        )
    kind, inner, tb = exc.err  # type: ignore[attr-defined]
    here = os.path.dirname(os.path.abspath(__file__))
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(here + os.sep):
        tb = tb.tb_next  # the student's frames only, not the runner's
    text = "".join(traceback.format_exception(kind, inner, tb))
    if isinstance(inner, SyntaxError | NameError):
        return f"Your code has a syntax error.\n{text}"
    return f"Your code raised an Exception.\n{text}"


def _serve(requests: Any, res_fd: int, run_one: Callable[[str], dict[str, Any]]) -> None:
    """W: one W' per test P asks for, which reports to P (then W reports how it ended)."""
    while (test_id := requests.next()) is not None:
        spec_runner._flush_std()
        pid = os.fork()
        if pid == 0:  # W'
            status = 3
            try:
                os.close(requests.fd)
                result = run_one(test_id)
                result["id"] = test_id
                spec_runner._flush_std()
                spec_runner._send(res_fd, result)
                status = 0
            except BaseException:  # noqa: BLE001 - W' reports any way it ends
                traceback.print_exc()
            finally:
                spec_runner._flush_std()
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        spec_runner._send(res_fd, {"id": test_id, "exit": os.waitstatus_to_exitcode(wait_status)})


def _collector(plan: dict[str, Any], harness: str, req_fd: int, res_fd: int) -> None:
    requests = spec_runner._Requests(req_fd)
    if requests.next() != "go":
        return
    api: Any = None
    try:
        os.chdir(plan["student_dir"])
        api, case = _load(harness, plan)
        case.setUpClass()
    except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
        message = spec_runner.bounded(_load_error(api, exc))
        spec_runner._send(res_fd, {"ready": False, "error": message})
        return
    spec_runner._send(res_fd, {"ready": True})
    _serve(requests, res_fd, lambda method: _run_one(api, case, method))


# -- P ------------------------------------------------------------------------------------
class PLRunner(spec_runner.Runner):
    """The spec runner's P, passing on each test's fraction and stopping after
    a test that ended grading."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.raw: dict[str, Any] | None = None

    def _read(self, deadline: float) -> dict[str, Any] | None:
        message = super()._read(deadline)
        if message is not None and "outcome" in message:
            self.raw = message
        return message

    def run_test(self, test_id: str) -> dict[str, Any]:
        self.raw = None
        record = super().run_test(test_id)
        raw: dict[str, Any] = self.raw or {}
        if raw.get("id") == test_id and record["outcome"] in {"passed", "failed", "error"}:
            fraction = _fraction(raw.get("fraction"))
            if fraction is not None:
                record["fraction"] = fraction
            record["stop"] = raw.get("stop") is True
        return record

    def run(self) -> None:
        ids = [str(i) for i in self.plan["ids"]]
        reason = self.load()
        stopped = False
        for test_id in ids:
            started = time.monotonic()
            if reason is not None:
                record = {"outcome": "error", "assertion": False, "message": reason}
            elif stopped:
                record = {"outcome": "skipped", "assertion": False, "message": STOPPED}
            else:
                record = self.run_test(test_id)
            stopped = stopped or record.pop("stop", False) is True
            self.cleanup(including_w=reason is not None or stopped)
            record["id"] = test_id
            record["wall_s"] = round(time.monotonic() - started, 4)
            self.emit(record)
        self.cleanup(including_w=True)
        self.emit({"done": True, "count": len(ids)})


def _fraction(value: object) -> float | None:
    """A test's fraction as W' sent it (untrusted): a finite number, clamped to 0..1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(1.0, max(0.0, float(value))) if math.isfinite(value) else None


def main(argv: list[str]) -> int:
    harness, plan = spec_runner.read_plan(argv)
    spec_runner._harden()
    sys.dont_write_bytecode = True
    return spec_runner.run_split(plan, harness, _collector, PLRunner)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
