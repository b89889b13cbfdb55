"""Student code cannot change a junit entry's score by forging results (native sandbox).

The baseline submission passes 2 of the 3 tests honestly. Each forging submission is the
baseline plus one attack; the score must stay the baseline's, or drop to 0 with the run
flagged as tampering when the attack reached the test JVM's report pipe:

* printing result lines (JUnit console's summary, the runner's JSON with a guessed token,
  the host channel's handshake and records) on ``System.out``, ``System.err`` and fd 1;
* ``System.exit(0)`` in the failing test, after printing that it passed;
* writing made-up reports to the report pipe (``/dev/fd/3``, ``/proc/self/fd/3``);
* opening the supervisor's result channel, descriptors or memory (``/proc/<P>/fd/1``,
  ``/proc/<P>/mem``) or the sandbox init's standard output (``/proc/1/fd/1``);
* shipping look-alikes: its own ``CounterTest`` (all tests trivially passing, compiled by
  the build onto the class path), a ``junit-platform.properties`` that turns on extension
  auto-detection and a registered JUnit extension that swallows every failure.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.report import GradeReport, ReportStatus
from assay.sandbox.backends import get_backend
from helpers import require_backend

pytestmark = pytest.mark.native

TESTS = """
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CounterTest {
    @Test void startsAtZero() { assertEquals(0, new Counter().value()); }
    @Test void adds() {
        Counter c = new Counter(); c.add(2); c.add(3); assertEquals(5, c.value());
    }
    @Test void resets() {
        Counter c = new Counter(); c.add(7); c.reset(); assertEquals(0, c.value());
    }
}
"""

MANIFEST = """
[assignment]
name = "junit-forgery"
environment = "java"

[build]
commands = [["sh", "-c", "javac -J-XX:TieredStopAtLevel=1 -cp \\"$CLASSPATH\\" *.java"]]
required_files = ["Counter.java"]

[[tests]]
name = "counter"
kind = "junit"
sources = ["tests/CounterTest.java"]
points = 3
per_test_timeout_s = 5
"""

# honest but wrong: reset() does nothing, so "resets" fails
BASE = """
public class Counter {
    private int n;
    public void add(int k) { n += k; }
    public int value() { return n; }
    public void reset() { %s }
}
"""

FORGED_LINES = r"""
    static String forged() {
        StringBuilder s = new StringBuilder();
        String[] tests = {"CounterTest#startsAtZero", "CounterTest#adds", "CounterTest#resets"};
        for (String t : tests) {
            s.append("{\"event\":\"start\",\"test\":\"" + t + "\"}\n");
            s.append("0123456789abcdef {\"event\":\"end\",\"test\":\"" + t
                    + "\",\"outcome\":\"passed\",\"assertion\":false,\"message\":\"\"}\n");
            s.append("{\"id\":\"" + t + "\",\"outcome\":\"passed\",\"message\":\"\"}\t"
                    + "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff\n");
        }
        s.append("{\"hello\":\"2\"}\n{\"done\":true}\n");
        s.append("[         3 tests successful      ]\n[         0 tests failed          ]\n");
        s.append("OK (3 tests)\nTests run: 3, Failures: 0, Errors: 0, Skipped: 0\n");
        return s.toString();
    }
"""

PRINTS = BASE.replace("}\n}", "}\n" + FORGED_LINES + "}").replace(
    "public int value() {",
    """static {
        System.out.print(forged());
        System.err.print(forged());
        java.io.FileDescriptor fd1 = java.io.FileDescriptor.out;
        try (java.io.FileOutputStream out = new java.io.FileOutputStream(fd1)) {
            out.write(forged().getBytes());
        } catch (java.io.IOException e) { }
    }
    public int value() {""",
)

PIPE = BASE.replace("}\n}", "}\n" + FORGED_LINES + "}").replace(
    "public int value() {",
    """static {
        for (String path : new String[] {"/dev/fd/3", "/proc/self/fd/3"}) {
            try (java.io.FileOutputStream out = new java.io.FileOutputStream(path)) {
                out.write(forged().getBytes());
            } catch (java.io.IOException e) { }
        }
    }
    public int value() {""",
)

CHANNEL = BASE.replace("}\n}", "}\n" + FORGED_LINES + "}").replace(
    "public int value() {",
    """static {
        long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(1L);
        StringBuilder failed = new StringBuilder();
        for (String path : new String[] {"/proc/" + parent + "/fd/1", "/proc/1/fd/1",
                "/proc/" + parent + "/fd/3", "/proc/" + parent + "/mem"}) {
            try (java.io.FileOutputStream out = new java.io.FileOutputStream(path)) {
                out.write(forged().getBytes());
            } catch (java.io.IOException e) {
                failed.append(path.replace("/proc/" + parent, "/proc/P")).append(' ');
            }
        }
        System.err.println("could not open: " + failed);
    }
    public int value() {""",
)

LOOKALIKE_TEST = """
import org.junit.jupiter.api.Test;
class CounterTest {
    @Test void startsAtZero() { }
    @Test void adds() { }
    @Test void resets() { }
}
"""

SWALLOW = """
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
public class Swallow implements TestExecutionExceptionHandler {
    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable error) { }
}
"""


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("junit-forgery")
    (root / "tests").mkdir()
    (root / "tests" / "CounterTest.java").write_text(TESTS)
    (root / "assignment.toml").write_text(textwrap.dedent(MANIFEST))
    return root


def _grade(package_dir: Path, files: dict[str, str]) -> GradeReport:
    require_backend("native", "java")
    with load_package(package_dir) as package:
        return grade(package, FileSet.from_mapping(files), backend=get_backend("native"))


def _summary(report: GradeReport) -> str:
    lines = [f"score {report.score} tampered {report.tampered} {report.staff_error}"]
    lines += [f"{t.name}: {t.status} {t.message!r} {t.staff_detail!r}" for t in report.tests]
    return "\n".join(lines)


def _scores(report: GradeReport) -> dict[str, float]:
    assert report.status is ReportStatus.GRADED, _summary(report)
    return {t.name: t.score for t in report.tests}


HONEST = {
    "counter :: startsAtZero": 1.0,
    "counter :: adds": 1.0,
    "counter :: resets": 0.0,
}


def test_the_baseline_passes_two_tests(package_dir: Path) -> None:
    report = _grade(package_dir, {"Counter.java": BASE % ""})
    assert _scores(report) == HONEST, _summary(report)
    assert report.tampered is False


def test_printed_result_lines_change_nothing(package_dir: Path) -> None:
    report = _grade(package_dir, {"Counter.java": PRINTS % ""})
    assert _scores(report) == HONEST, _summary(report)
    assert report.tampered is False, _summary(report)
    assert "Tests run: 3, Failures: 0" in report.tests[0].output  # it did print


def test_exiting_in_the_failing_test_after_claiming_a_pass_changes_nothing(
    package_dir: Path,
) -> None:
    exits = "System.out.print(forged()); System.out.flush(); System.exit(0);"
    report = _grade(package_dir, {"Counter.java": PRINTS % exits})
    assert _scores(report) == HONEST, _summary(report)
    resets = next(t for t in report.tests if t.name == "counter :: resets")
    assert "System.exit" in resets.message, _summary(report)


def test_reports_written_to_the_report_pipe_are_tampering_and_score_nothing(
    package_dir: Path,
) -> None:
    report = _grade(package_dir, {"Counter.java": PIPE % ""})
    assert report.score == 0, _summary(report)
    assert report.tampered is True, _summary(report)
    assert all(t.tampered for t in report.tests)
    assert "report pipe" in (report.tests[0].staff_detail or "")
    assert report.student_view().tests[0].tampered is None  # staff only


def test_the_supervisors_descriptors_and_memory_are_out_of_reach(package_dir: Path) -> None:
    """P (the test JVM's parent) is not dumpable: its descriptors and memory cannot be
    opened; the sandbox's init holds no descriptor to write either."""
    report = _grade(package_dir, {"Counter.java": CHANNEL % ""})
    assert _scores(report) == HONEST, _summary(report)
    assert report.tampered is False, _summary(report)
    said = report.tests[0].output
    assert "could not open: /proc/P/fd/1 /proc/1/fd/1 /proc/P/fd/3 /proc/P/mem" in said, said


def test_look_alike_tests_configuration_and_extensions_are_ignored(package_dir: Path) -> None:
    files = {
        "Counter.java": BASE % "",
        "CounterTest.java": LOOKALIKE_TEST,
        "Swallow.java": SWALLOW,
        "junit-platform.properties": "junit.jupiter.extensions.autodetection.enabled=true\n",
        "META-INF/services/org.junit.jupiter.api.extension.Extension": "Swallow\n",
    }
    report = _grade(package_dir, files)
    assert report.build.status.value == "passed", _summary(report)
    assert _scores(report) == HONEST, _summary(report)
    assert report.tampered is False
