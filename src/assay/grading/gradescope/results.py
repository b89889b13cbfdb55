"""Gradescope's ``results.json``, read as untrusted input.

``run_autograder`` runs in the same sandbox as the student's code (as on
Gradescope), so whatever it leaves in ``results/results.json`` may have been
written by the student. It is read with a size cap (``MAX_RESULTS_BYTES``),
parsed as strict JSON (no NaN or Infinity) and validated against the documented
format (gradescope-autograders.readthedocs.io, "Autograder Specifications").
Keys the format does not document are ignored, as Gradescope does; documented
keys of the wrong type are refused. Anything malformed is a ``ResultsError``
with a message for the report, never an exception that stops grading.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assay.grading.results_json import ResultsError, load_object

MAX_RESULTS_BYTES = 1024 * 1024
MAX_TESTS = 2000
MAX_LEADERBOARD = 100

Number = Annotated[float, Field(allow_inf_nan=False)]


class GsVisibility(StrEnum):
    """Gradescope's visibility values (tests, the whole result, stdout)."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    AFTER_DUE_DATE = "after_due_date"
    AFTER_PUBLISHED = "after_published"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=False)


class GsTest(_Model):
    """One entry of ``tests``: every key optional, as documented."""

    score: Number | None = None
    max_score: Number | None = None
    status: Literal["passed", "failed"] | None = None
    name: str = ""
    number: str | None = None
    output: str = ""
    output_format: str = "text"
    tags: tuple[str, ...] = ()
    visibility: GsVisibility | None = None
    extra_data: dict[str, Any] | None = None

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a test number is a string or a number")  # noqa: TRY004 - pydantic
        if isinstance(value, int | float):
            return format(value, "g")
        return value

    def passed(self) -> bool:
        """Gradescope's rule: ``status`` if given, else full marks pass."""
        if self.status is not None:
            return self.status == "passed"
        return (self.score or 0.0) >= (self.max_score or 0.0)


class GsLeaderboardEntry(_Model):
    name: str
    value: Number | str
    order: Literal["asc", "desc"] = "desc"


class GsResults(_Model):
    """The whole file."""

    score: Number | None = None
    execution_time: Number | None = None
    output: str = ""
    output_format: str = "simple_format"
    visibility: GsVisibility | None = None
    stdout_visibility: GsVisibility | None = None
    extra_data: dict[str, Any] | None = None
    tests: Annotated[tuple[GsTest, ...], Field(max_length=MAX_TESTS)] = ()
    leaderboard: Annotated[tuple[GsLeaderboardEntry, ...], Field(max_length=MAX_LEADERBOARD)] = ()

    def tests_total(self) -> float:
        return sum(t.score or 0.0 for t in self.tests)

    def total(self) -> float:
        """Gradescope's score: the top-level ``score`` if given, else the tests' sum."""
        return self.score if self.score is not None else self.tests_total()


def parse_results(data: bytes) -> GsResults:
    """Validate ``data`` (at most ``MAX_RESULTS_BYTES``) as a Gradescope results file."""
    if len(data) > MAX_RESULTS_BYTES:
        raise ResultsError(f"results.json is larger than {MAX_RESULTS_BYTES} bytes")
    if not data.strip():
        raise ResultsError("results.json is empty")
    raw = load_object(data, "results.json")
    try:
        results = GsResults.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise ResultsError(f"results.json does not follow Gradescope's format: {problems}") from exc
    if results.score is None and not results.tests:
        raise ResultsError("results.json has neither a score nor tests")
    return results
