"""inventory.py: a "solution" that attacks the grader instead of solving the task.

A known-bad example for the anti-tamper checks: it must score nothing and be
flagged as tampered. Everything starts when the spec imports this module:

1. every ``unittest`` assertion becomes a no-op (``assertRaises`` swallows
   anything) and every failure or error any ``TestResult`` records becomes a
   success;
2. JSON this process writes is rewritten to say that everything passed, and
   fake result files are dropped in the working directory;
3. the spec files are overwritten where that is allowed;
4. fake pass markers are printed now and again at exit ("OK", "PASSED",
   JSON result lines);
5. the one thing that cannot be faked, ``remove``, ends the process with
   status 0 before a failure can be recorded.

None of the methods does any real work: they return what an empty shop
would, so a test fails honestly wherever the patches do not hold.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import unittest
from pathlib import Path
from typing import Any

FAKE_MARKERS = (
    "OK",
    "PASSED",
    "test_inventory.py::InventoryTest::test_add_then_count PASSED",
    '{"name": "test_add_then_count", "status": "passed", "passed": true}',
    '{"tests": [{"name": "all", "passed": true}], "score": 16, "max_score": 16}',
    "----------------------------------------------------------------------",
    "Ran 16 tests in 0.001s",
    "",
    "OK",
)


def _say_all_passed() -> None:
    for line in FAKE_MARKERS:
        print(line, flush=True)
    print("Ran 16 tests in 0.001s\n\nOK", file=sys.stderr, flush=True)


class _Swallow:
    """What every patched assertion returns: a context manager that hides any exception."""

    exception: BaseException | None = None

    def __enter__(self) -> _Swallow:
        return self

    def __exit__(self, *exc: object) -> bool:
        return True


def _assert_nothing(*args: Any, **kwargs: Any) -> _Swallow:
    return _Swallow()


def _patch_unittest() -> None:
    for name in dir(unittest.TestCase):
        if name.startswith("assert") or name == "fail":
            setattr(unittest.TestCase, name, _assert_nothing)
    add_success = unittest.TestResult.addSuccess

    def record_success(self: unittest.TestResult, test: unittest.TestCase, *rest: Any) -> None:
        add_success(self, test)

    for name in ("addFailure", "addError", "addExpectedFailure", "addUnexpectedSuccess"):
        setattr(unittest.TestResult, name, record_success)
    unittest.TestResult.wasSuccessful = lambda self: True  # type: ignore[method-assign]


def _all_green(value: Any) -> Any:
    if isinstance(value, dict):
        out = {key: _all_green(item) for key, item in value.items()}
        for key in ("passed", "ok", "success"):
            if isinstance(out.get(key), bool):
                out[key] = True
        if isinstance(out.get("status"), str):
            out["status"] = "passed"
        for key in ("failures", "errors", "failed"):
            if isinstance(out.get(key), list):
                out[key] = []
            elif isinstance(out.get(key), int) and not isinstance(out.get(key), bool):
                out[key] = 0
        return out
    if isinstance(value, list | tuple):
        return [_all_green(item) for item in value]
    return value


def _patch_json() -> None:
    encode, iterencode = json.JSONEncoder.encode, json.JSONEncoder.iterencode

    def green_encode(self: json.JSONEncoder, o: Any) -> str:
        return encode(self, _all_green(o))

    def green_iterencode(self: json.JSONEncoder, o: Any, _one_shot: bool = False) -> Any:
        return iterencode(self, _all_green(o), _one_shot)

    json.JSONEncoder.encode = green_encode  # type: ignore[method-assign]
    json.JSONEncoder.iterencode = green_iterencode  # type: ignore[method-assign]


def _drop_fake_results() -> None:
    fake = json.dumps({"tests": [], "score": 16, "max_score": 16, "passed": True})
    for name in ("results.json", "result.json", "report.json", ".results.json"):
        with contextlib.suppress(OSError):
            Path(name).write_text(fake)
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if Path(path).name.startswith("test_"):
            with contextlib.suppress(OSError):
                Path(path).write_text("import unittest\n")


_patch_unittest()
_patch_json()
_drop_fake_results()
_say_all_passed()
atexit.register(_say_all_passed)


class Inventory:
    """Stores nothing; the patches above are meant to make every test pass anyway."""

    def add(self, item: str, quantity: int = 1) -> None:
        pass

    def remove(self, item: str, quantity: int = 1) -> None:
        _say_all_passed()
        os._exit(0)  # leave "successfully" before this test's failure is recorded

    def count(self, item: str) -> int:
        return 0

    def __contains__(self, item: object) -> bool:
        return False

    def items(self) -> list[str]:
        return []

    def total(self) -> int:
        return 0

    def most_stocked(self) -> str | None:
        return None

    def low_stock(self, threshold: int) -> list[str]:
        return []
