"""python-unittest and pytest kinds on the real native sandbox, with tampering submissions.

Each package has 4 spec tests worth 1 point each (4 points). Three of them
end in an unconditional assertion and so get a complement; the fourth
(``test_loop``) ends inside a loop and has none. Every tampering submission
is graded for its exact score; none may get full marks, and those that make
an assertion pass whatever it compares are flagged ``tampered``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

UNITTEST_SPEC = '''
import unittest

from solution import add, parity


class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(1, 2), 3)

    def test_negative(self):
        """Negative numbers."""
        text = """a multi-line
        string"""
        self.assertTrue(text)
        self.assertEqual(add(-1, -2), -3, msg="negative")

    def test_parity(self):
        self.assertIn(parity(3), ("odd",))

    def test_loop(self):
        for i in range(3):
            self.assertEqual(add(i, i), 2 * i)
'''

PYTEST_SPEC = """
import pytest

from solution import add, parity


@pytest.fixture
def base():
    return 10


def test_small():
    assert add(1, 2) == 3


@pytest.mark.parametrize("a,b,total", [(-1, -2, -3), (-5, 0, -5)])
def test_negative(a, b, total):
    assert add(a, b) == total, "negative"


class TestMore:
    def test_parity(self, base):
        assert parity(base + 3) in ("odd",)

    def test_loop(self):
        for i in range(3):
            assert add(i, i) == 2 * i
"""

CORRECT = """
def add(a, b):
    return a + b


def parity(n):
    return "odd" if n % 2 else "even"
"""

# wrong for negative numbers only: test_negative fails (and its complement passes)
WRONG = """
def add(a, b):
    return abs(a) + abs(b)


def parity(n):
    return "odd" if n % 2 else "even"
"""

KINDS = ("python-unittest", "pytest")


def _package(root: Path, kind: str, *, anti_tamper: bool = True) -> Path:
    spec = UNITTEST_SPEC if kind == "python-unittest" else PYTEST_SPEC
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_solution.py").write_text(spec)
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            name = "spec-{kind}"
            environment = "python3"

            [[tests]]
            name = "spec"
            kind = "{kind}"
            points = 4
            spec = "tests/test_solution.py"
            anti_tamper = {str(anti_tamper).lower()}
            per_test_timeout_s = 2.0
            """
        )
    )
    return root


def _grade(tmp_path: Path, kind: str, files: dict[str, str], **options: bool) -> GradeReport:
    require_backend("native")
    package = load_package(_package(tmp_path / "package", kind, **options))
    return grade(package, FileSet.from_mapping(files), backend=get_backend("native"))


def _by_name(report: GradeReport) -> dict[str, str]:
    return {t.name.removeprefix("spec :: "): t.status for t in report.tests}


@pytest.mark.parametrize("kind", KINDS)
def test_a_correct_solution_gets_full_marks(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": CORRECT})
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert [t.name for t in report.tests] == [
        "spec :: test_small",
        "spec :: test_negative",
        "spec :: test_parity",
        "spec :: test_loop",
    ]
    assert report.score == 4.0
    assert report.max_score == 4.0
    assert not report.tampered
    assert all(t.max_score == 1.0 for t in report.tests)


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_solution_gets_exactly_the_tests_it_passes(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": WRONG})
    assert report.score == 3.0
    assert _by_name(report)["test_negative"] == TestStatus.FAILED
    assert not report.tampered  # failing a test and passing its complement is just wrong
    negative = next(t for t in report.tests if t.name.endswith("test_negative"))
    assert "negative" in negative.message


@pytest.mark.parametrize("kind", KINDS)
def test_without_anti_tamper_the_names_are_kept(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": WRONG}, anti_tamper=False)
    assert report.score == 3.0


@pytest.mark.parametrize("kind", KINDS)
def test_student_output_is_shown_and_never_read_as_results(tmp_path: Path, kind: str) -> None:
    noisy = CORRECT + '\nprint("hello from the solution")\n'
    report = _grade(tmp_path, kind, {"solution.py": noisy})
    assert report.score == 4.0
    assert "hello from the solution" in report.tests[0].output


@pytest.mark.parametrize("kind", KINDS)
def test_an_import_error_fails_every_test_with_its_message(tmp_path: Path, kind: str) -> None:
    report = _grade(tmp_path, kind, {"solution.py": "def add(a, b)\n    return a + b\n"})
    assert report.status is ReportStatus.GRADED
    assert report.score == 0.0
    assert len(report.tests) == 4
    assert all("SyntaxError" in t.message for t in report.tests)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hanging_test_times_out_alone(tmp_path: Path, kind: str) -> None:
    hanging = CORRECT + "\n\ndef parity(n):\n    while True:\n        pass\n"
    report = _grade(tmp_path, kind, {"solution.py": hanging})
    statuses = _by_name(report)
    assert statuses["test_parity"] == TestStatus.TIMEOUT
    assert report.score == 3.0


# -- tampering submissions ---------------------------------------------------------------------
WRONG_ZERO = """
def add(a, b):
    return 0


def parity(n):
    return None
"""

PATCH_UNITTEST_ASSERTS = (
    """
import unittest


def _accept(self, *args, **kwargs):
    return None


for _name in dir(unittest.TestCase):
    if _name.startswith("assert"):
        setattr(unittest.TestCase, _name, _accept)
"""
    + WRONG_ZERO
)

PATCH_UNITTEST_RUN = (
    """
import unittest


def _run(self, result=None):
    result.startTest(self)
    result.addSuccess(self)
    result.stopTest(self)


unittest.TestCase.run = _run
"""
    + WRONG_ZERO
)

PATCH_PYTEST = (
    """
import _pytest.python

_pytest.python.Function.runtest = lambda self: None
"""
    + WRONG_ZERO
)

OS_EXIT_AT_IMPORT = "import os\nos._exit(0)\n" + CORRECT
SYS_EXIT_AT_IMPORT = "import sys\nsys.exit(0)\n" + CORRECT
OS_EXIT_IN_A_TEST = CORRECT + "\n\ndef parity(n):\n    import os\n    os._exit(0)\n"

_IDS = """
import glob
import json


def _planned_ids():
    ids = []
    for plan in glob.glob("/work/.assay-*/plan.json"):
        with open(plan) as file:
            ids += json.load(file)["ids"]
    return ids


def _fake_lines():
    lines = ["OK", "PASSED", "Ran 4 tests", "4 passed in 0.01s"]
    lines.append(json.dumps({"hello": "2"}))
    for test_id in _planned_ids():
        fake = {"id": test_id, "outcome": "passed", "assertion": False, "message": ""}
        lines += [json.dumps(fake), json.dumps(fake) + "\\t" + "0" * 64]
    return ("\\n".join(lines) + "\\n").encode()
"""

FAKE_STDOUT = (
    _IDS
    + """
import os
import sys

print(_fake_lines().decode())
sys.stdout.flush()
os.write(1, _fake_lines())
"""
    + WRONG
)

# the runner's stdout is also open in the sandbox's init process: try to reopen it (or P's)
# and write there, then stop P. The pipe belongs to the host's root: the open is refused.
FORGE_CHANNEL = (
    _IDS
    + """
import os
import signal

for _path in ("/proc/1/fd/1", f"/proc/{os.getppid()}/fd/1", f"/proc/{os.getppid()}/fd/3"):
    try:
        with open(_path, "wb", buffering=0) as channel:
            channel.write(_fake_lines())
    except OSError as exc:
        print("refused:", exc)
os.kill(os.getppid(), signal.SIGKILL)
"""
    + WRONG
)

# in-process forgery: write "passed" for every test to every descriptor the test process has
FORGE_RESULT_PIPE = (
    _IDS
    + """
import os


def _forge():
    for fd in os.listdir("/proc/self/fd"):
        try:
            os.write(int(fd), _fake_lines())
        except OSError:
            pass


def add(a, b):
    _forge()
    return 0


def parity(n):
    _forge()
    return None
"""
)

SKIP_AT_IMPORT = "import unittest\nraise unittest.SkipTest('nothing to see')\n" + CORRECT
SKIP_IN_TESTS = """
import unittest


def add(a, b):
    raise unittest.SkipTest("skipped")


def parity(n):
    raise unittest.SkipTest("skipped")
"""

ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__


def add(a, b):
    return Anything()


def parity(n):
    return Anything()
"""

HARNESS_WRITE = (
    """
import glob
import os

for _dir in glob.glob("/work/.assay-*"):
    for _name in os.listdir(_dir):
        try:
            with open(os.path.join(_dir, _name), "w") as _file:
                _file.write("")
        except OSError:
            pass
    try:
        os.chmod(_dir, 0o777)
    except OSError:
        pass
    try:
        os.rename(_dir, _dir + "-moved")
        os.mkdir(_dir)
        with open(os.path.join(_dir, "plan.json"), "w") as _file:
            _file.write('{"ids": []}')
    except OSError:
        pass
"""
    + WRONG
)

WORKSPACE_HOOKS = {
    "solution.py": WRONG,
    "conftest.py": (
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.runtest = lambda: None\n"
    ),
    "sitecustomize.py": PATCH_UNITTEST_ASSERTS.replace(WRONG_ZERO, ""),
    "usercustomize.py": PATCH_UNITTEST_ASSERTS.replace(WRONG_ZERO, ""),
    "pytest.ini": "[pytest]\naddopts = -p conftest\n",
    "unittest.py": "raise SystemExit('the fake unittest was imported')\n",
}

# a daemon that waits for its test to end, then sends "passed" for every test
DAEMON = (
    _IDS
    + """
import os
import time


def _daemon():
    test_process = os.getpid()
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    while os.path.exists(f"/proc/{test_process}"):
        time.sleep(0.005)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        for fd in os.listdir("/proc/self/fd"):
            try:
                os.write(int(fd), _fake_lines())
            except OSError:
                pass
        time.sleep(0.01)
    os._exit(0)


def add(a, b):
    _daemon()
    return abs(a) + abs(b)


def parity(n):
    return "odd" if n % 2 else "even"
"""
)

HUGE_OUTPUT = CORRECT + "\nimport sys\nsys.stderr.write('x' * (3 * 1024 * 1024))\n"

# name: (files, {kind: (exact score, tampered)})
ATTACKS: dict[str, tuple[dict[str, str], dict[str, tuple[float, bool]]]] = {
    "a-patch-unittest-asserts": (
        {"solution.py": PATCH_UNITTEST_ASSERTS},
        {"python-unittest": (1.0, True), "pytest": (0.0, False)},
    ),
    "a-patch-unittest-run": (
        {"solution.py": PATCH_UNITTEST_RUN},
        {"python-unittest": (1.0, True), "pytest": (0.0, False)},
    ),
    "b-os-exit-at-import": (
        {"solution.py": OS_EXIT_AT_IMPORT},
        {"python-unittest": (0.0, False), "pytest": (0.0, False)},
    ),
    "b-sys-exit-at-import": (
        {"solution.py": SYS_EXIT_AT_IMPORT},
        {"python-unittest": (0.0, False), "pytest": (0.0, False)},
    ),
    "b-os-exit-in-a-test": (
        {"solution.py": OS_EXIT_IN_A_TEST},
        {"python-unittest": (3.0, False), "pytest": (3.0, False)},
    ),
    "c-fake-stdout": (
        {"solution.py": FAKE_STDOUT},
        {"python-unittest": (3.0, False), "pytest": (3.0, False)},
    ),
    "c-forge-channel": (
        {"solution.py": FORGE_CHANNEL},
        {"python-unittest": (0.0, False), "pytest": (0.0, False)},
    ),
    "c-forge-result-pipe": (
        {"solution.py": FORGE_RESULT_PIPE},
        {"python-unittest": (1.0, True), "pytest": (1.0, True)},
    ),
    "d-patch-pytest": (
        {"solution.py": PATCH_PYTEST},
        {"python-unittest": (0.0, False), "pytest": (1.0, True)},
    ),
    "d-skip-at-import": (
        {"solution.py": SKIP_AT_IMPORT},
        {"python-unittest": (0.0, False), "pytest": (0.0, False)},
    ),
    "d-skip-in-tests": (
        {"solution.py": SKIP_IN_TESTS},
        {"python-unittest": (0.0, False), "pytest": (0.0, False)},
    ),
    "e-always-equal": (
        {"solution.py": ALWAYS_EQUAL},
        {"python-unittest": (2.0, True), "pytest": (2.0, True)},
    ),
    # unittest has read the spec before the rename; pytest notices that the module it
    # imported moved and refuses to collect it: the student's own run breaks
    "f-harness-write": (
        {"solution.py": HARNESS_WRITE},
        {"python-unittest": (3.0, False), "pytest": (0.0, False)},
    ),
    "g-workspace-hooks": (
        WORKSPACE_HOOKS,
        {"python-unittest": (3.0, False), "pytest": (3.0, False)},
    ),
    "h-daemon": (
        {"solution.py": DAEMON},
        {"python-unittest": (3.0, False), "pytest": (3.0, False)},
    ),
    "huge-output": (
        {"solution.py": HUGE_OUTPUT},
        {"python-unittest": (4.0, False), "pytest": (4.0, False)},
    ),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_tampering_submissions_get_their_exact_score(
    tmp_path: Path, attack: str, kind: str
) -> None:
    files, expected = ATTACKS[attack]
    report = _grade(tmp_path, kind, files)
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert len(report.tests) == 4
    assert (report.score, report.tampered) == expected[kind], [
        (t.name, t.status, t.message, t.staff_detail) for t in report.tests
    ]


@pytest.mark.docker
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("solution", "expected"), [(CORRECT, (4.0, False)), (ALWAYS_EQUAL, (2.0, True))]
)
def test_the_docker_backend_grades_the_same(
    tmp_path: Path, kind: str, solution: str, expected: tuple[float, bool]
) -> None:
    require_backend("docker", "python3")
    package = load_package(_package(tmp_path / "package", kind))
    report = grade(
        package, FileSet.from_mapping({"solution.py": solution}), backend=get_backend("docker")
    )
    assert report.status is ReportStatus.GRADED, report.staff_error
    assert (report.score, report.tampered) == expected
