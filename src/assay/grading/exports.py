"""A ``GradeReport`` in other tools' formats: Gradescope ``results.json`` and JUnit XML.

Gradescope shows ``results.json`` to students, so ``to_gradescope`` always
writes from the student's side: no staff details, no tamper flag, and hidden
tests carry their verdict only. ``to_junit_xml`` writes whatever report it is
given (call ``report.student_view()`` first for students).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from assay.grading.outcome import NOT_RUN_PREFIX, TestOutcome, TestStatus
from assay.grading.report import BuildReport, GradeReport, ReportStatus
from assay.grading.spec import Visibility

GRADESCOPE_VISIBILITY = {
    Visibility.VISIBLE: "visible",
    Visibility.HIDDEN: "hidden",
    Visibility.AFTER_DUE: "after_due_date",
}
JUNIT_FAILURES = frozenset(
    {
        TestStatus.FAILED,
        TestStatus.TIMEOUT,
        TestStatus.MEMORY_LIMIT,
        TestStatus.OUTPUT_LIMIT,
        TestStatus.CRASHED,
    }
)
# characters XML 1.0 cannot hold, even escaped
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- Gradescope ----------------------------------------------------------------------------------


def to_gradescope(report: GradeReport) -> dict[str, Any]:
    """Gradescope autograder ``results.json`` (their field names and visibility values)."""
    view = report.student_view(after_due=True)  # after_due tests: Gradescope delays them itself
    tests = []
    for test in view.tests:
        hidden = test.visibility is Visibility.HIDDEN
        entry: dict[str, Any] = {
            "name": test.name,
            "score": test.score,
            "max_score": test.max_score,
            # Gradescope knows "passed" and "failed" only: a test not run scored nothing
            "status": "passed" if test.status is TestStatus.PASSED else "failed",
            "output": _verdict(test) if hidden else _test_text(test),
            "visibility": GRADESCOPE_VISIBILITY[test.visibility],
        }
        if test.status is TestStatus.SKIPPED:
            entry["extra_data"] = {"assay_status": test.status.value}
        tests.append(entry)
    return {
        "score": view.score,
        "execution_time": round(view.timings.total_s),
        "output": _summary(view),
        "output_format": "text",  # student text is never rendered as HTML or Markdown
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": {
            "assay_status": view.status.value,
            "assay_schema_version": view.schema_version,
            "assignment": view.assignment,
        },
        "tests": tests,
    }


def _verdict(test: TestOutcome) -> str:
    if test.status in {TestStatus.PASSED, TestStatus.FAILED}:
        return test.status.value
    if test.status is TestStatus.SKIPPED:
        return "not run"
    return f"failed ({test.status.value.replace('_', ' ')})"


def _test_text(test: TestOutcome) -> str:
    if test.status is TestStatus.SKIPPED:  # the reason is all there is ("not run: ...")
        return test.message if test.message.startswith(NOT_RUN_PREFIX) else _verdict(test)
    parts = [_verdict(test)]
    if test.message:
        parts.append(test.message)
    shows_diff = test.status is not TestStatus.PASSED
    if shows_diff and (test.expected is not None or test.actual is not None):
        parts.append(f"--- expected ---\n{test.expected or ''}")
        parts.append(f"--- actual ---\n{test.actual or ''}")
    if test.output:
        parts.append(f"--- output ---\n{test.output}")
    for finding in test.findings:
        where = f" ({finding.file}:{finding.line})" if finding.file else ""
        parts.append(f"{finding.kind}: {finding.message}{where}")
    return "\n".join(parts)


def _summary(report: GradeReport) -> str:
    lines = [f"Score: {_num(report.score)} / {_num(report.max_score)}"]
    if report.status is ReportStatus.ERROR:
        lines.append(report.error or "grading failed on our side; it will be retried")
    lines.extend(_build_lines(report.build))
    if report.static is not None and report.static.findings:
        lines.append(f"Static checks ({report.static.effect.value}):")
        for f in report.static.findings:
            where = f"{f.file}:{f.line}: " if f.file else ""
            lines.append(f"  {where}{f.message}")
        if report.static.deducted:
            lines.append(f"  deducted: {_num(report.static.deducted)}")
    return "\n".join(lines)


def _build_lines(build: BuildReport) -> list[str]:
    lines = [f"Build: {build.status.value}"]
    for d in build.diagnostics:
        place = ":".join(str(p) for p in (d.file, d.line, d.column) if p is not None)
        lines.append(f"  {place}: {d.severity}: {d.message}")
    if build.status.value == "failed" and build.log:
        lines.append("--- build log ---")
        lines.append(build.log)
    return lines


def _num(value: float) -> str:
    return f"{value:g}"


# -- JUnit XML -----------------------------------------------------------------------------------


def to_junit_xml(report: GradeReport) -> str:
    """The report as JUnit XML: one testsuite, a testcase per test (plus build and static)."""
    cases = [*_build_case(report), *(_test_case(report, t) for t in report.tests)]
    static_case = _static_case(report)
    if static_case is not None:
        cases.append(static_case)
    if report.status is ReportStatus.ERROR:
        cases.append(_grading_error_case(report))
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }
    time_s = f"{report.timings.total_s:.3f}"
    # junit-10.xsd (Jenkins) allows ``skipped`` on a testsuite, not on testsuites
    totals = {key: value for key, value in counts.items() if key != "skipped"}
    root = ET.Element("testsuites", _attrs(name="assay", time=time_s, **totals))
    suite = ET.SubElement(
        root,
        "testsuite",
        _attrs(
            name=report.assignment, timestamp=report.graded_at.isoformat(), time=time_s, **counts
        ),
    )
    props = {
        "score": _num(report.score),
        "max_score": _num(report.max_score),
        "status": report.status.value,
        "build_status": report.build.status.value,
        "backend": report.backend,
        "environment": report.environment,
        "schema_version": str(report.schema_version),
    }
    if report.tampered is not None:
        props["tampered"] = str(report.tampered).lower()
    # a testcase may hold no <properties> in junit-10.xsd: each test's own go to the suite
    for test in report.tests:
        props.update(_test_properties(test))
    _properties(suite, props)
    suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _build_case(report: GradeReport) -> list[ET.Element]:
    build = report.build
    if build.status.value == "skipped":
        return []
    case = _case(report.assignment, "build", "build", build.timing.wall_s)
    message = f"the build {build.status.value}"
    if build.status.value == "failed":
        _child(case, "failure", build.log, message=message, type="build")
    elif build.status.value == "error":
        _child(case, "error", build.log, message=message, type="build")
    if build.log:
        _child(case, "system-out", build.log)
    return [case]


def _test_case(report: GradeReport, test: TestOutcome) -> ET.Element:
    case = _case(
        report.assignment, test.group or test.kind or "tests", test.name, test.timing.wall_s
    )
    detail = _test_text(test)
    if test.status is TestStatus.ERROR:
        _child(case, "error", test.staff_detail or detail, message=test.message, type="error")
    elif test.status is TestStatus.SKIPPED or test.message.startswith(NOT_RUN_PREFIX):
        # SKIPPED, or a report stored before that status: its build-failed tests were "failed"
        _child(case, "skipped", None, message=test.message or "not run")
    elif test.status in JUNIT_FAILURES:
        _child(case, "failure", detail, message=test.message or test.status.value, type=test.status)
    if test.output:
        _child(case, "system-out", test.output)
    return case


def _test_properties(test: TestOutcome) -> dict[str, str]:
    """A test's score, verdict and visibility as suite properties named ``test.NAME.KEY``."""
    values = {
        "score": _num(test.score),
        "max_score": _num(test.max_score),
        "status": test.status.value,
        "visibility": test.visibility.value,
    }
    if test.tampered is not None:
        values["tampered"] = str(test.tampered).lower()
    return {f"test.{test.name}.{key}": value for key, value in values.items()}


def _static_case(report: GradeReport) -> ET.Element | None:
    if report.static is None:
        return None
    case = _case(report.assignment, "static", "static checks", 0.0)
    if report.static.findings:
        text = "\n".join(
            (f"{f.file}:{f.line}: " if f.file else "") + f.message for f in report.static.findings
        )
        names = ", ".join(sorted({f.name for f in report.static.findings}))
        _child(case, "failure", text, message=f"forbidden: {names}", type=report.static.effect)
    return case


def _grading_error_case(report: GradeReport) -> ET.Element:
    case = _case(report.assignment, "grading", "grading", report.timings.total_s)
    text = report.staff_error or report.error or ""
    _child(case, "error", text, message=report.error or "grading failed", type="infrastructure")
    return case


def _case(assignment: str, group: str, name: str, time_s: float) -> ET.Element:
    return ET.Element(
        "testcase", _attrs(classname=f"{assignment}.{group}", name=name, time=f"{time_s:.3f}")
    )


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    props = ET.SubElement(parent, "properties")
    for key, value in values.items():
        ET.SubElement(props, "property", _attrs(name=key, value=value))


def _child(parent: ET.Element, tag: str, text: str | None, **attrs: object) -> None:
    element = ET.SubElement(parent, tag, _attrs(**attrs))
    if text:
        element.text = xml_text(text)


def _attrs(**values: object) -> dict[str, str]:
    return {key: xml_text(str(value)) for key, value in values.items()}


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold shown as ``\\xNN`` / ``\\uNNNN``."""
    return _XML_ILLEGAL.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
