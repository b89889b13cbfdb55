"""The junit kind's load-time plan: test methods read from the Java source, points, names,
visibility from @GradedTest, @DisplayName and assignment.toml, and the package errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.kinds import get_kind
from assay.grading.kinds.junit_source import JavaSourceError, scan
from assay.grading.loader import load_package
from assay.grading.spec import Visibility

JUPITER = """
package edu.course;

import org.junit.jupiter.api.*;
import com.gradescope.jh61b.grader.GradedTest;

/* a comment with @Test void notATest() { */
public class StackTest {
    static final int[] SIZES = {1, 2};
    private final String text = "@Test void fake() {";

    @Test
    @GradedTest(name = "push then " + "pop", number = "1.1", max_score = 3, visibility = "hidden")
    void pushPop() {
        Runnable r = new Runnable() { @Test public void run() {} };
    }

    @org.junit.jupiter.api.Test @DisplayName("an empty stack") void empty() {}

    @Test @Disabled("later") void later() {}

    @ParameterizedTest @ValueSource(ints = {1, 2}) void sizes(int n) {}

    void helper() {}

    @Nested class WhenFull { @RepeatedTest(2) void refuses() {} }
}
"""

VINTAGE = """
import org.junit.Test;
import org.junit.Ignore;

public class QueueTest {
    @Test public void offer() {}
    @Test(timeout = 100) public void poll() {}
    @Ignore @Test public void skipped() {}
}

abstract class BaseTest { @Test public void inherited() {} }
"""


def test_the_scanner_finds_test_methods_and_their_annotations() -> None:
    found = scan(JUPITER, "StackTest.java")
    assert [t.key for t in found.tests] == [
        "edu.course.StackTest#pushPop",
        "edu.course.StackTest#empty",
        "edu.course.StackTest#sizes",
        "edu.course.StackTest$WhenFull#refuses",
    ]
    graded = found.tests[0].annotation("GradedTest")
    assert graded is not None
    assert graded.values == {
        "name": "push then pop",
        "number": "1.1",
        "max_score": 3.0,
        "visibility": "hidden",
    }
    display = found.tests[1].annotation("DisplayName")
    assert display is not None and display.values == {"value": "an empty stack"}
    assert [c.name for c in found.classes] == [
        "edu.course.StackTest",
        "edu.course.StackTest$WhenFull",
    ]


def test_the_scanner_reads_junit4_and_marks_abstract_classes() -> None:
    found = scan(VINTAGE, "QueueTest.java")
    assert [t.short for t in found.tests] == [
        "QueueTest.offer",
        "QueueTest.poll",
        "BaseTest.inherited",
    ]
    assert {c.name: c.abstract for c in found.classes} == {"QueueTest": False, "BaseTest": True}


def test_an_unbalanced_source_is_an_error() -> None:
    with pytest.raises(JavaSourceError, match=r"Broken\.java:1"):
        scan("class Broken { void f() {", "Broken.java")


def _package(tmp_path: Path, entries: str) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "StackTest.java").write_text(JUPITER)
    (tmp_path / "tests" / "QueueTest.java").write_text(VINTAGE)
    (tmp_path / "assignment.toml").write_text(
        textwrap.dedent(
            """
            [assignment]
            name = "junit-plan"
            environment = "java"
            """
        )
        + textwrap.dedent(entries)
    )
    return tmp_path


def _rows(tmp_path: Path, entries: str) -> list[tuple[str, float, Visibility]]:
    """The outcomes the first entry would have (names, points, visibility)."""
    with load_package(_package(tmp_path, entries)) as package:
        test = package.spec.tests[0]
        outcomes = get_kind("junit").not_run(test, package.options[test.name], "not run")
    return [(o.name, round(o.max_score, 4), o.visibility) for o in outcomes]


V, H, A = Visibility.VISIBLE, Visibility.HIDDEN, Visibility.AFTER_DUE


def test_points_follow_graded_test_max_scores_and_names_follow_the_annotations(
    tmp_path: Path,
) -> None:
    rows = _rows(
        tmp_path,
        """
        [[tests]]
        name = "stack"
        kind = "junit"
        sources = ["tests/StackTest.java"]
        points = 6
        """,
    )
    # only pushPop has a weight (max_score 3): as on Gradescope, the others weigh 0
    assert rows == [
        ("stack :: 1.1 push then pop", 6.0, H),
        ("stack :: an empty stack", 0.0, V),
        ("stack :: sizes", 0.0, V),
        ("stack :: refuses", 0.0, V),
    ]


def test_assignment_toml_weights_and_visibility_win_over_annotations(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        """
        [[tests]]
        name = "both"
        kind = "junit"
        sources = ["tests/StackTest.java", "tests/QueueTest.java"]
        points = 10
        visibility = "after_due"

        [tests.weights]
        "StackTest.pushPop" = 1
        "edu.course.StackTest.WhenFull.refuses" = 0
        "poll" = 4

        [tests.visibilities]
        "StackTest.pushPop" = "visible"
        "QueueTest.offer" = "after_published"

        [tests.numbers]
        "QueueTest.poll" = "1"
        """,
    )
    # weights 1 and 4 from the table, 0 for every test without one: 10 points over 5;
    # the stricter of the entry's and the test's visibility; numbered rows first
    assert rows == [
        ("both :: 1 poll", 8.0, A),
        ("both :: 1.1 push then pop", 2.0, A),
        ("both :: an empty stack", 0.0, A),
        ("both :: sizes", 0.0, A),
        ("both :: refuses", 0.0, A),
        ("both :: offer", 0.0, H),
    ]


def test_no_annotations_split_the_points_equally(tmp_path: Path) -> None:
    rows = _rows(
        tmp_path,
        """
        [[tests]]
        name = "queue"
        kind = "junit"
        sources = ["tests/QueueTest.java"]
        points = 3
        """,
    )
    assert rows == [("queue :: offer", 1.5, V), ("queue :: poll", 1.5, V)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[tests.weights]\n"StackTest.nope" = 1\n', "names no test method"),
        ('[tests.visibilities]\n"StackTest.empty" = "secret"\n', "visibility of"),
        ('[tests.weights]\n"StackTest.pushPop" = 0\n', "add up to 0"),
        ('[tests.numbers]\n"WhenFull.nope" = "1"\n', "names no test method"),
        ('[tests.weights]\n"StackTest.empty" = -1\n', "weight"),
        ('colour = "blue"\n', "colour"),
    ],
)
def test_bad_keys_are_package_errors(tmp_path: Path, extra: str, message: str) -> None:
    entries = """
        [[tests]]
        name = "stack"
        kind = "junit"
        sources = ["tests/StackTest.java"]
        """
    with pytest.raises(PackageError, match=message):
        _rows(tmp_path, textwrap.dedent(entries) + extra)


def test_sources_without_tests_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tests").mkdir()
    (tmp_path / "pkg" / "tests" / "Helper.java").write_text("class Helper { void f() {} }")
    (tmp_path / "pkg" / "assignment.toml").write_text(
        '[assignment]\nname = "x"\nenvironment = "java"\n\n'
        '[[tests]]\nname = "t"\nkind = "junit"\nsources = ["tests/Helper.java"]\n'
    )
    with pytest.raises(PackageError, match="no test methods"):
        load_package(tmp_path / "pkg")
