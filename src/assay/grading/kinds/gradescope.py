"""The ``gradescope`` test kind: a Gradescope autograder's ``run_autograder``, unchanged.

The package's environment is built by ``assay assignment import-gradescope`` with
the autograder's ``setup.sh`` (``assay.grading.gradescope.layout``). At grading the
submission's files move to ``/autograder/submission``, the built source and
``run_autograder`` are copied into the workspace, ``run_autograder`` runs with the
working directory ``/autograder`` in the student's sandbox (the harness and the
student's code share it, as on Gradescope), and ``results/results.json`` is read as
untrusted input (``assay.grading.gradescope.results``) and mapped to rows
(``assay.grading.gradescope.mapping``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import Field

from assay.errors import WorkspacePathError
from assay.grading.gradescope.layout import PREPARE, RESULTS_FILE, RUN_AUTOGRADER
from assay.grading.gradescope.mapping import STAFF_OUTPUT_BYTES, ExpectedTest, outcomes
from assay.grading.gradescope.results import MAX_RESULTS_BYTES, parse_results
from assay.grading.kinds.base import KindOptions, TestKind
from assay.grading.outcome import TestOutcome, Timing, decode, describe_run, status_of_run
from assay.grading.results_json import ResultsError

if TYPE_CHECKING:
    from assay.grading.context import GradingContext
    from assay.grading.spec import TestSpec


class ExpectedTestOption(KindOptions):
    name: str = Field(min_length=1, max_length=200)
    max_score: float | None = None


class GradescopeOptions(KindOptions):
    # the rows the reference submission's results listed (written by the importer):
    # a test outside them that scores points is flagged as looking forged
    expected_tests: tuple[ExpectedTestOption, ...] = ()

    def expected(self) -> tuple[ExpectedTest, ...]:
        return tuple(ExpectedTest(e.name, e.max_score) for e in self.expected_tests)


class GradescopeKind(TestKind[GradescopeOptions]):
    name = "gradescope"
    Options = GradescopeOptions

    def run(
        self, ctx: GradingContext, test: TestSpec, options: GradescopeOptions
    ) -> list[TestOutcome]:
        base = TestOutcome.failed(test)
        prepared = ctx.run_student(["/bin/sh", "-c", PREPARE])
        if not prepared.ok:
            detail = decode(prepared.stdout + prepared.stderr, STAFF_OUTPUT_BYTES)
            return [
                replace(
                    base,
                    message="the submission could not be put in Gradescope's layout "
                    f"({describe_run(prepared)})",
                    staff_detail=detail,
                )
            ]
        result = ctx.run_student([RUN_AUTOGRADER], cwd=".")
        timing = Timing.of(result)
        output = result.stdout + result.stderr
        staff = "run_autograder's output:\n" + decode(output, STAFF_OUTPUT_BYTES)
        forced = status_of_run(result)
        if forced is not None:
            message = f"run_autograder {describe_run(result)}"
            return [
                replace(base, status=forced, message=message, timing=timing, staff_detail=staff)
            ]
        try:
            data = ctx.sandbox.read_file(RESULTS_FILE, max_bytes=MAX_RESULTS_BYTES)
        except WorkspacePathError as exc:
            message = (
                f"run_autograder ({describe_run(result)}) left no readable "
                f"/autograder/{RESULTS_FILE} (at most {MAX_RESULTS_BYTES} bytes): {exc.message}"
            )
            return [replace(base, message=message, timing=timing, staff_detail=staff)]
        try:
            results = parse_results(data)
        except ResultsError as exc:
            return [replace(base, message=str(exc), timing=timing, staff_detail=staff)]
        return outcomes(
            results, test, expected=options.expected(), run_output=output, timing=timing
        )
