"""The junit kind on the real sandbox: JUnit 5 and JUnit 4 (vintage, with a runner) test
classes against a student's Java class, per-test points and visibility from @GradedTest and
assignment.toml, failures, a timeout, System.exit in a test, and compile errors.

One package, two entries (a JUnit 5 class and a JUnit 4 class): every grading starts two
javac and at least two test JVMs, so the submissions are few and each checks much.
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
from assay.grading.spec import Visibility
from assay.sandbox.backends import get_backend
from helpers import require_backend

JUPITER = """
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.gradescope.jh61b.grader.GradedTest;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class CounterTest {
    @Test
    @GradedTest(name = "starts at zero", number = "1", max_score = 1)
    void startsAtZero() {
        assertEquals(0, new Counter().value());
    }

    @Test
    @GradedTest(name = "adds", number = "2", max_score = 2)
    void adds() {
        Counter c = new Counter();
        c.add(2);
        c.add(3);
        assertEquals(5, c.value(), "2 + 3");
    }

    @Test
    @DisplayName("resets to zero")
    @GradedTest(max_score = 1, visibility = "hidden")
    void resets() {
        Counter c = new Counter();
        c.add(7);
        c.reset();
        assertEquals(0, c.value());
    }
}
"""

VINTAGE = """
import static org.junit.Assert.assertEquals;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.JUnit4;

@RunWith(JUnit4.class)
public class CounterLegacyTest {
    @Test
    public void negative() {
        Counter c = new Counter();
        c.add(-3);
        assertEquals(-3, c.value());
    }

    @Test
    public void many() {
        Counter c = new Counter();
        for (int i = 1; i <= 100; i++) {
            c.add(i);
        }
        assertEquals(5050, c.value());
    }
}
"""

MANIFEST = """
[assignment]
name = "junit-counter"
environment = "java"

[build]
commands = [["javac", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "Counter.java"]]
required_files = ["Counter.java"]

[[tests]]
name = "counter"
kind = "junit"
sources = ["tests/CounterTest.java"]
points = 4
per_test_timeout_s = 2

[[tests]]
name = "legacy"
kind = "junit"
sources = ["tests/CounterLegacyTest.java"]
points = 4
per_test_timeout_s = 2

[tests.weights]
"CounterLegacyTest.negative" = 1
"many" = 3

[tests.visibilities]
"CounterLegacyTest.negative" = "hidden"
"""

CORRECT = """
public class Counter {
    private int n;
    public void add(int k) { n += k; }
    public int value() { return n; }
    public void reset() { n = 0; }
}
"""

# add() loops forever for a negative number; reset() ends the JVM; adds() is off by one
WRONG = """
public class Counter {
    private int n;
    public void add(int k) {
        while (k < 0) { Thread.onSpinWait(); }
        n += (n == 2 && k == 3) ? 4 : k;
    }
    public int value() { return n; }
    public void reset() { System.exit(0); }
}
"""

NAMES = {
    "counter :: 1 starts at zero": (1.0, Visibility.VISIBLE),
    "counter :: 2 adds": (2.0, Visibility.VISIBLE),
    "counter :: resets to zero": (1.0, Visibility.HIDDEN),
    "legacy :: negative": (1.0, Visibility.HIDDEN),
    "legacy :: many": (3.0, Visibility.VISIBLE),
}


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("junit-package")
    (root / "tests").mkdir()
    (root / "tests" / "CounterTest.java").write_text(JUPITER)
    (root / "tests" / "CounterLegacyTest.java").write_text(VINTAGE)
    (root / "assignment.toml").write_text(textwrap.dedent(MANIFEST))
    return root


def _grade(package_dir: Path, source: str, backend: str = "native") -> GradeReport:
    require_backend(backend, "java")
    with load_package(package_dir) as package:
        files = FileSet.from_mapping({"Counter.java": textwrap.dedent(source)})
        return grade(package, files, backend=get_backend(backend))


def _summary(report: GradeReport) -> str:
    lines = [f"score {report.score}/{report.max_score} {report.status} {report.staff_error}"]
    lines += [
        f"{t.name}: {t.status} {t.score} {t.message!r} {t.staff_detail!r}" for t in report.tests
    ]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("native", marks=pytest.mark.native),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def test_a_correct_class_passes_every_test_with_points_and_visibility_as_planned(
    package_dir: Path, backend: str
) -> None:
    report = _grade(package_dir, CORRECT, backend)
    assert report.status is ReportStatus.GRADED, _summary(report)
    assert report.score == pytest.approx(8.0), _summary(report)
    assert {t.name: (t.max_score, t.visibility) for t in report.tests} == NAMES
    assert all(t.status is TestStatus.PASSED and t.kind == "junit" for t in report.tests)
    assert report.tampered is False


@pytest.mark.native
def test_failures_a_timeout_and_system_exit_cost_only_their_own_tests(package_dir: Path) -> None:
    report = _grade(package_dir, WRONG)
    by_name = {t.name: t for t in report.tests}
    statuses = {name: t.status for name, t in by_name.items()}
    assert statuses == {
        "counter :: 1 starts at zero": TestStatus.PASSED,
        "counter :: 2 adds": TestStatus.FAILED,
        "counter :: resets to zero": TestStatus.FAILED,
        "legacy :: negative": TestStatus.TIMEOUT,
        "legacy :: many": TestStatus.PASSED,
    }, _summary(report)
    assert report.score == pytest.approx(4.0), _summary(report)
    adds = by_name["counter :: 2 adds"].message
    assert "2 + 3 ==> expected: <5> but was: <6>" in adds, adds
    assert "at CounterTest.adds(CounterTest.java:" in adds, adds
    assert "org.junit" not in adds.partition("\n")[2], adds  # JUnit's own frames are trimmed
    assert "System.exit" in by_name["counter :: resets to zero"].message
    assert by_name["legacy :: negative"].message == "took longer than 2 s"
    assert report.tampered is False


@pytest.mark.native
def test_a_class_that_does_not_compile_fails_the_build_and_runs_no_test(
    package_dir: Path,
) -> None:
    report = _grade(package_dir, CORRECT.replace("n = 0;", "n = 0"))
    assert report.build.status.value == "failed", _summary(report)
    assert report.score == 0
    assert len(report.tests) == 5, _summary(report)
    assert all(t.score == 0 for t in report.tests)


@pytest.mark.native
def test_tests_that_do_not_compile_against_the_class_say_why(package_dir: Path) -> None:
    report = _grade(package_dir, CORRECT.replace("public void reset()", "public void clear()"))
    assert report.build.status.value == "passed", _summary(report)
    counter = [t for t in report.tests if t.name.startswith("counter :: ")]
    assert all(t.status is TestStatus.FAILED for t in counter), _summary(report)
    assert all("do not compile against your code" in t.message for t in counter)
    assert all("cannot find symbol" in t.message for t in counter), counter[0].message
    assert all(".assay-" not in t.message for t in counter), counter[0].message  # no harness path
    legacy = [t for t in report.tests if t.name.startswith("legacy :: ")]
    assert all(t.status is TestStatus.PASSED for t in legacy), _summary(report)
