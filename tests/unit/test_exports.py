"""Gradescope results.json and JUnit XML exports of a GradeReport."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from assay.grading.exports import to_gradescope, to_junit_xml, xml_text
from assay.grading.outcome import (
    BuildStatus,
    Diagnostic,
    StaticFinding,
    TestOutcome,
    TestStatus,
    Timing,
)
from assay.grading.report import BuildReport, GradeReport, ReportStatus, StaticReport, Timings
from assay.grading.spec import StaticEffect, Visibility

SECRET = "SECRET-HIDDEN-INPUT-42"
STAFF = "Traceback: /srv/assay/packages/x/checker.py line 3"
NASTY = 'a\x00b\x1b[31mred\x07 <tag> & "quote" \ud800 end'


def sample_report(**changes: object) -> GradeReport:
    tests = [
        TestOutcome(
            name="sample 1",
            kind="io",
            status=TestStatus.PASSED,
            score=2,
            max_score=2,
            visibility=Visibility.VISIBLE,
            output="3\n",
            timing=Timing(wall_s=0.25),
        ),
        TestOutcome(
            name="sample 2",
            kind="io",
            group="samples",
            status=TestStatus.FAILED,
            score=0,
            max_score=2,
            visibility=Visibility.VISIBLE,
            message="wrong answer on line 1",
            expected="7\n",
            actual="8\n",
            output=NASTY,
        ),
        TestOutcome(
            name="secret big",
            kind="io",
            status=TestStatus.FAILED,
            score=0,
            max_score=3,
            visibility=Visibility.HIDDEN,
            message=f"wrong answer for input {SECRET}",
            expected=SECRET,
            actual="0",
            output=SECRET,
            tampered=True,
            staff_detail=STAFF,
        ),
        TestOutcome(
            name="after due slow",
            kind="io",
            status=TestStatus.TIMEOUT,
            score=0,
            max_score=1,
            visibility=Visibility.AFTER_DUE,
            message="time limit exceeded (2.00 s wall)",
        ),
        TestOutcome(
            name="checker broke",
            kind="io",
            status=TestStatus.ERROR,
            score=0,
            max_score=1,
            visibility=Visibility.VISIBLE,
            message="this test could not be run (an internal error, not your fault)",
            staff_detail=STAFF,
        ),
    ]
    base: dict[str, object] = {
        "assignment": "python-io",
        "status": ReportStatus.GRADED,
        "score": 2,
        "max_score": 9,
        "build": BuildReport(
            status=BuildStatus.PASSED,
            log="$ python3 -m py_compile main.py\n",
            diagnostics=[
                Diagnostic(file="main.py", line=3, column=5, severity="warning", message="unused x")
            ],
        ),
        "tests": tests,
        "static": StaticReport(
            effect=StaticEffect.DEDUCT,
            findings=[
                StaticFinding(
                    name="eval",
                    rule="blacklist",
                    message="eval is not allowed",
                    file="main.py",
                    line=4,
                )
            ],
            deducted=1,
        ),
        "tampered": True,
        "staff_error": None,
        "backend": "native",
        "environment": "python3",
        "timings": Timings(total_s=3.6),
    }
    base.update(changes)
    return GradeReport.model_validate(base)


# --- Gradescope ---------------------------------------------------------------------------------


def test_gradescope_top_level_fields() -> None:
    out = to_gradescope(sample_report())
    assert out["score"] == 2
    assert out["execution_time"] == 4
    assert out["stdout_visibility"] == "hidden"
    assert out["output_format"] == "text"
    assert out["test_output_format"] == "text"
    assert out["test_name_format"] == "text"
    assert out["output"].startswith("Score: 2 / 9")
    assert "main.py:3:5: warning: unused x" in out["output"]
    assert "main.py:4: eval is not allowed" in out["output"]
    assert "deducted: 1" in out["output"]
    json.dumps(out)  # serialisable as it is


def test_gradescope_tests_use_their_field_names_and_values() -> None:
    tests = to_gradescope(sample_report())["tests"]
    assert [set(t) for t in tests] == [
        {"name", "score", "max_score", "status", "output", "visibility"}
    ] * 5
    assert [t["status"] for t in tests] == ["passed", "failed", "failed", "failed", "failed"]
    assert [t["visibility"] for t in tests] == [
        "visible",
        "visible",
        "hidden",
        "after_due_date",
        "visible",
    ]
    assert [t["max_score"] for t in tests] == [2, 2, 3, 1, 1]
    sample2 = tests[1]["output"]
    assert "wrong answer on line 1" in sample2
    assert "--- expected ---\n7\n" in sample2
    assert "--- actual ---\n8\n" in sample2
    assert tests[3]["output"].startswith("failed (timeout)")


def test_gradescope_never_carries_hidden_contents_staff_details_or_tamper_flag() -> None:
    out = to_gradescope(sample_report(staff_error=STAFF))
    text = json.dumps(out)
    assert SECRET not in text
    assert "/srv/assay" not in text
    assert "tamper" not in text
    hidden = out["tests"][2]
    assert hidden["output"] == "failed"
    assert hidden["score"] == 0


def test_gradescope_error_report_says_grading_failed() -> None:
    report = sample_report(
        status=ReportStatus.ERROR, error="grading failed on our side", staff_error=STAFF
    )
    out = to_gradescope(report)
    assert "grading failed on our side" in out["output"]
    assert out["extra_data"]["assay_status"] == "error"
    assert "/srv/assay" not in json.dumps(out)


def test_gradescope_failed_build_shows_the_log() -> None:
    build = BuildReport(status=BuildStatus.FAILED, log="main.c:1:1: error: expected ';'\n")
    out = to_gradescope(sample_report(build=build))
    assert "Build: failed" in out["output"]
    assert "expected ';'" in out["output"]


# --- JUnit --------------------------------------------------------------------------------------


def parse(report: GradeReport) -> ET.Element:
    text = to_junit_xml(report)
    assert text.startswith("<?xml")
    return ET.fromstring(text)  # noqa: S314 - our own output


def cases_by_name(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_junit_is_well_formed_with_counts_and_properties() -> None:
    root = parse(sample_report())
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "python-io"
    # build + 5 tests + static checks
    assert suite.get("tests") == "7"
    assert suite.get("failures") == "4"  # sample 2, secret, after due timeout, static
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "0"
    assert root.get("tests") == "7"
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["score"] == "2"
    assert props["max_score"] == "9"
    assert props["status"] == "graded"
    assert props["tampered"] == "true"
    assert props["build_status"] == "passed"


def test_junit_testcases_carry_classname_time_failure_error_and_output() -> None:
    cases = cases_by_name(parse(sample_report()))
    assert set(cases) == {
        "build",
        "sample 1",
        "sample 2",
        "secret big",
        "after due slow",
        "checker broke",
        "static checks",
    }
    assert cases["sample 1"].get("classname") == "python-io.io"
    assert cases["sample 1"].get("time") == "0.250"
    assert cases["sample 1"].find("failure") is None
    assert cases["sample 1"].findtext("system-out") == "3\n"
    assert cases["sample 2"].get("classname") == "python-io.samples"
    failure = cases["sample 2"].find("failure")
    assert failure is not None
    assert failure.get("message") == "wrong answer on line 1"
    assert failure.get("type") == "failed"
    assert cases["after due slow"].find("failure").get("type") == "timeout"  # type: ignore[union-attr]
    error = cases["checker broke"].find("error")
    assert error is not None
    assert STAFF in (error.text or "")  # the staff report keeps staff details
    static = cases["static checks"].find("failure")
    assert static is not None
    assert static.get("message") == "forbidden: eval"
    assert cases["secret big"].find("properties") is None  # junit-10.xsd: none in a testcase
    suite = parse(sample_report()).find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    test_props = {
        name.removeprefix("test.secret big."): value
        for name, value in suite_props.items()
        if name and name.startswith("test.secret big.")
    }
    assert test_props == {
        "score": "0",
        "max_score": "3",
        "status": "failed",
        "visibility": "hidden",
        "tampered": "true",
    }


def test_junit_escapes_markup_and_replaces_illegal_control_characters() -> None:
    cases = cases_by_name(parse(sample_report()))
    out = cases["sample 2"].findtext("system-out")
    assert out == 'a\\x00b\\x1b[31mred\\x07 <tag> & "quote" \\ud800 end'


def test_junit_of_the_student_view_hides_hidden_contents() -> None:
    text = to_junit_xml(sample_report(staff_error=STAFF).student_view())
    assert SECRET not in text
    assert "/srv/assay" not in text
    root = ET.fromstring(text)  # noqa: S314
    props = {p.get("name") or "" for p in root.iter("property")}
    assert not [name for name in props if name.endswith("tampered")]


def test_junit_failed_build_skips_tests_and_error_report_adds_a_grading_error() -> None:
    not_run = TestOutcome(
        name="t1",
        status=TestStatus.FAILED,
        score=0,
        max_score=1,
        visibility=Visibility.VISIBLE,
        message="not run: the build failed: gcc main.c: exited with status 1",
    )
    report = sample_report(
        build=BuildReport(status=BuildStatus.FAILED, log="main.c:1: error: x\n"),
        tests=[not_run],
        static=None,
        status=ReportStatus.ERROR,
        error="grading failed on our side",
        staff_error="SandboxError: boom",
    )
    root = parse(report)
    cases = cases_by_name(root)
    assert set(cases) == {"build", "t1", "grading"}
    assert cases["build"].find("failure") is not None
    assert cases["t1"].find("skipped") is not None
    assert cases["t1"].find("failure") is None
    grading = cases["grading"].find("error")
    assert grading is not None
    assert grading.text == "SandboxError: boom"
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "1", "1")


def test_xml_text_keeps_legal_characters() -> None:
    legal = "tab\tnl\ncr\r é 日本 \U0001f600"
    assert xml_text(legal) == legal
    assert xml_text("\x01\x7f\ufffe") == "\\x01\x7f\\ufffe"


def skipped(name: str, message: str, visibility: Visibility = Visibility.VISIBLE) -> TestOutcome:
    return TestOutcome(
        name=name,
        kind="io",
        status=TestStatus.SKIPPED,
        score=0,
        max_score=1,
        visibility=visibility,
        message=message,
    )


def test_skipped_tests_are_not_run_in_gradescope_and_junit() -> None:
    report = sample_report(
        tests=[
            sample_report().tests[0],
            skipped("needs sample", "not run: depends on sample 2, which failed"),
            skipped(
                "hidden needs", "not run: depends on sample 2, which failed", Visibility.HIDDEN
            ),
        ],
        static=None,
    )
    results = to_gradescope(report)
    by_name = {t["name"]: t for t in results["tests"]}
    assert by_name["needs sample"]["output"] == "not run: depends on sample 2, which failed"
    assert by_name["needs sample"]["status"] == "failed"
    assert by_name["needs sample"]["extra_data"] == {"assay_status": "skipped"}
    assert by_name["hidden needs"]["output"] == "not run"  # a hidden test: the verdict only
    assert "extra_data" not in by_name["sample 1"]
    root = parse(report)
    cases = cases_by_name(root)
    element = cases["needs sample"].find("skipped")
    assert element is not None
    assert element.get("message") == "not run: depends on sample 2, which failed"
    assert cases["needs sample"].find("failure") is None
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "2")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["test.needs sample.status"] == "skipped"


def test_a_build_failure_is_in_the_build_case_and_summary_once() -> None:
    log = "$ gcc -o prog main.c\nmain.c:1:1: error: expected ';'\n[exited with status 1]\n"
    report = sample_report(
        build=BuildReport(status=BuildStatus.FAILED, log=log),
        tests=[
            skipped("t1", "not run: the build failed"),
            skipped("t2", "not run: the build failed"),
        ],
        static=None,
    )
    results = to_gradescope(report)
    assert results["output"].count("gcc -o prog main.c") == 1
    assert [t["output"] for t in results["tests"]] == ["not run: the build failed"] * 2
    junit = to_junit_xml(report)
    assert junit.count("gcc -o prog main.c") == 2  # the build case: <failure> and <system-out>
    cases = cases_by_name(ET.fromstring(junit))  # noqa: S314 - our own output
    assert [c.find("skipped") is not None for c in (cases["t1"], cases["t2"])] == [True, True]
