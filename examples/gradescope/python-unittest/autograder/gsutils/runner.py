"""A unittest runner that writes Gradescope's results.json format."""

import io
import json
import time
import traceback
import unittest


def _attribute(test, name, default=None):
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    return getattr(method, f"__gs_{name}__", default)


class JSONTestResult(unittest.TestResult):
    def __init__(self, stream=None, descriptions=None, verbosity=None):
        super().__init__(stream, descriptions, verbosity)
        self.entries = []

    def _entry(self, test, passed, detail=""):
        doc = test.shortDescription()
        name = doc or getattr(test, "_testMethodName", str(test))
        points = _attribute(test, "weight")
        entry = {"name": name, "status": "passed" if passed else "failed"}
        if points is not None:
            if _attribute(test, "partial", False):
                score = _attribute(test, "score", 0.0)
            else:
                score = points if passed else 0.0
            entry["score"] = score
            entry["max_score"] = points
        for key in ("number", "visibility", "tags"):
            value = _attribute(test, key)
            if value is not None:
                entry[key] = value
        if detail:
            entry["output"] = detail
        self.entries.append(entry)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._entry(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._entry(test, False, f"Test failed: {err[1]}")

    def addError(self, test, err):
        super().addError(test, err)
        lines = traceback.format_exception_only(err[0], err[1])
        self._entry(test, False, "Test raised an error: " + "".join(lines).strip())


class JSONTestRunner:
    def __init__(self, out, *, leaderboard=False):
        self.out = out
        self.leaderboard = leaderboard

    def run(self, suite):
        result = JSONTestResult(io.StringIO())
        started = time.monotonic()
        suite.run(result)
        elapsed = time.monotonic() - started
        entries = sorted(result.entries, key=lambda e: (e.get("number", ""), e["name"]))
        passed = sum(e["status"] == "passed" for e in entries)
        document = {
            "execution_time": round(elapsed, 3),
            "output": f"{passed} of {len(entries)} tests passed",
            "tests": entries,
        }
        if self.leaderboard:
            document["leaderboard"] = [{"name": "Tests passed", "value": passed}]
        json.dump(document, self.out, indent=2)
        return result
