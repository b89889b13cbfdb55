"""Every JUnit file Assay writes validates against Jenkins' junit-10.xsd.

The schema is the xUnit plugin's (tests/fixtures/third_party/README.md): what
Jenkins, GitLab and most CI dashboards read. It allows ``skipped`` on a
``<testsuite>`` but not on ``<testsuites>``, and ``<properties>`` on a suite
but not inside a ``<testcase>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xmlschema

from assay.grading.exports import to_junit_xml
from assay.grading.outcome import BuildStatus, TestOutcome, TestStatus, Timing
from assay.grading.report import BuildReport, GradeReport, ReportStatus
from assay.grading.spec import Visibility
from unit.test_exports import sample_report

FIXTURES = Path(__file__).parent.parent / "fixtures"
SCHEMA = xmlschema.XMLSchema10(FIXTURES / "third_party" / "junit-10.xsd")


def stored_reports() -> list[GradeReport]:
    reports = []
    for path in sorted((FIXTURES / "reports").glob("report-*.json")):
        stored = json.loads(path.read_text())
        reports.append(GradeReport.model_validate_json(stored["staff"]))
    return reports


def build_failed_report() -> GradeReport:
    not_run = TestOutcome(
        name="t1",
        status=TestStatus.FAILED,
        score=0,
        max_score=1,
        visibility=Visibility.VISIBLE,
        message="not run: the build failed: gcc main.c: exited with status 1",
    )
    return sample_report(
        build=BuildReport(status=BuildStatus.FAILED, log="main.c:1: error: x\n"),
        tests=[not_run],
        static=None,
        status=ReportStatus.ERROR,
        error="grading failed on our side",
        staff_error="SandboxError: boom",
    )


def slow_report() -> GradeReport:
    # a long run: the suite's time must still match the schema's SUREFIRE_TIME pattern
    slow = TestOutcome(
        name="slow",
        status=TestStatus.TIMEOUT,
        score=0,
        max_score=1,
        visibility=Visibility.AFTER_DUE,
        timing=Timing(wall_s=12345.678),
    )
    return sample_report(tests=[slow])


REPORTS = {
    "sample": sample_report(),
    "sample, student view": sample_report().student_view(),
    "build failed": build_failed_report(),
    "slow": slow_report(),
    **{f"stored {i}": r for i, r in enumerate(stored_reports(), 1)},
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_junit_export_validates_against_jenkins_junit_10_xsd(name: str) -> None:
    xml = to_junit_xml(REPORTS[name])
    errors = [str(e.reason) + " at " + str(e.path) for e in SCHEMA.iter_errors(xml)]
    assert errors == []


def test_the_schema_refuses_what_the_old_export_wrote() -> None:
    # the check can fail: the two constructs the export used to write are invalid
    bad = (
        '<testsuites skipped="0"><testsuite name="a" tests="1" failures="0" errors="0">'
        '<testcase name="t"><properties><property name="score" value="1"/></properties>'
        "</testcase></testsuite></testsuites>"
    )
    assert not SCHEMA.is_valid(bad)
