#!/usr/bin/env bash
# Run autograder-sandbox's own upstream test suite (tests.py of its PyPI sdist)
# against assay.compat.autograder_sandbox; print each test's outcome and the counts.
#
#   bash scripts/compat-upstream-tests.sh [NAME_PART]...   (only tests whose id contains one)
#
# The sdist is downloaded from PyPI into a temporary directory, never into the
# repository. There an `autograder_sandbox` shim package holds upstream's
# tests.py and output_size_performance_test.py beside modules that re-export
# Assay's compat module, so upstream's relative imports get ours. The tests run
# with the default settings (no ASSAY_COMPAT_* variables), as root (the native
# backend needs it), under a timeout: a hang fails the run (exit status 2).
#
# One thing is adapted: upstream's setUp runs `docker pull` of the image its own
# library runs commands in. Assay never uses that image, so a `docker` wrapper
# early on PATH answers `pull` with success and passes every other docker
# command to the real one. The results: docs/compat-autograder-sandbox.md.
#
# Environment: AGS_VERSION (6.0.0), AGS_TIMEOUT_S (2400), AGS_KEEP=1 keeps the
# temporary directory (its path is printed) with the tests' own output.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$PWD/.venv/bin/python
version=${AGS_VERSION:-6.0.0}
timeout_s=${AGS_TIMEOUT_S:-2400}

work=$(mktemp -d /tmp/assay-ags-upstream.XXXXXX)
if [ "${AGS_KEEP:-0}" = 1 ]; then
    echo "working in $work (kept)"
else
    trap 'rm -rf "$work"' EXIT
fi

"$python" -m pip download -qq --no-deps --no-binary :all: \
    "autograder-sandbox==$version" -d "$work/dist"
tar -xzf "$work/dist/autograder_sandbox-$version.tar.gz" -C "$work"
upstream=$work/autograder_sandbox-$version/autograder_sandbox

shim=$work/shim/autograder_sandbox
mkdir -p "$shim"
cp "$upstream/tests.py" "$upstream/output_size_performance_test.py" "$shim/"
cat >"$shim/autograder_sandbox.py" <<'PY'
"""Upstream's module, provided by Assay's compat module."""
import subprocess  # noqa: F401 - upstream's tests patch autograder_sandbox.autograder_sandbox.subprocess.run

from assay.compat.autograder_sandbox import *  # noqa: F403
PY
cat >"$shim/__init__.py" <<'PY'
"""autograder_sandbox, as upstream's __init__ exports it, from Assay's compat module."""
from assay.compat.autograder_sandbox import __version__  # noqa: F401

from .autograder_sandbox import *  # noqa: F403
PY

mkdir -p "$work/bin"
real_docker=$(command -v docker || true)
cat >"$work/bin/docker" <<SH
#!/bin/sh
# upstream's setUp pulls the image of its own library; Assay does not use it
if [ "\${1:-}" = pull ]; then
    echo "compat-upstream-tests: not pulling \$2 (Assay does not use it)" >&2
    exit 0
fi
if [ -z "$real_docker" ]; then
    echo "compat-upstream-tests: docker is not installed" >&2
    exit 127
fi
exec "$real_docker" "\$@"
SH
chmod +x "$work/bin/docker"

cat >"$work/run.py" <<'PY'
"""Run upstream's tests.py: each test's outcome on fd 3 as it ends, then the counts."""
import os
import sys
import time
import unittest

progress = os.fdopen(3, "w", buffering=1)
loader = unittest.TestLoader()
loader.testNamePatterns = [f"*{part}*" for part in sys.argv[1:]] or None
suite = loader.loadTestsFromName("autograder_sandbox.tests")


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:240] if text else ''}"


class Result(unittest.TextTestResult):
    def startTest(self, test):
        self.started = time.monotonic()
        super().startTest(test)

    def note(self, test, outcome, detail=""):
        took = time.monotonic() - self.started
        name = test.id().removeprefix("autograder_sandbox.tests.")
        progress.write(f"{outcome:7} {took:6.1f}s {name}{': ' + detail if detail else ''}\n")

    def addSuccess(self, test):
        super().addSuccess(test)
        self.note(test, "ok")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.note(test, "FAIL", first_line(err[1]))

    def addError(self, test, err):
        super().addError(test, err)
        self.note(test, "ERROR", first_line(err[1]))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.note(test, "skipped", reason)


result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
progress.write(
    f"upstream tests.py: {passed} passed, {failed} failed ({len(result.failures)} failures,"
    f" {len(result.errors)} errors), {len(result.skipped)} skipped, of {result.testsRun}\n"
)
sys.exit(0 if failed == 0 else 1)
PY

log=$work/tests-output.log
echo "autograder-sandbox $version's tests.py on assay.compat.autograder_sandbox" \
    "(timeout ${timeout_s}s)"
start=$(date +%s)
status=0
(
    cd "$work"  # upstream's tests write scratch files into the working directory
    env -u ASSAY_COMPAT_BACKEND -u ASSAY_COMPAT_ENVIRONMENT PATH="$work/bin:$PATH" \
        PYTHONPATH="$work/shim" \
        timeout --kill-after=30 "$timeout_s" "$python" "$work/run.py" "$@" 3>&1 >"$log" 2>&1
) || status=$?
echo "took $(($(date +%s) - start))s"
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "TIMED OUT after ${timeout_s}s: the suite hung; its last output:" >&2
    tail -n 30 "$log" >&2
    exit 2
fi
exit "$status"
