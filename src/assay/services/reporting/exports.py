"""Grade exports of an assignment (staff): a CSV for spreadsheets and gradebooks, and
Gradescope-style JSON (each student's counted submission as a Gradescope
``results.json``, which only ever carries the student's side of a report).

Both list every student of the course; a student without a graded submission has
empty score fields. The score that counts is the one after the late penalty.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.grading.exports import to_gradescope
from assay.grading.report import GradeReport
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.identity import audit
from assay.services.platform import Platform
from assay.services.reporting.results import BestOut, best_rows
from assay.storage.models import GradingRun, User

CSV_COLUMNS = (
    "username",
    "display_name",
    "email",
    "submissions",
    "submission_id",
    "submitted_at",
    "tests_passed",
    "tests_total",
    "score",
    "max_score",
    "late_minutes",
    "late_penalty",
    "counted_score",
    "tampered",
)


class GradescopeStudent(BaseModel):
    username: str
    email: str
    submission_id: int | None
    counted_score: float | None
    late_penalty: float
    results: dict[str, Any] | None  # Gradescope results.json of the counted submission


class GradescopeExport(BaseModel):
    assignment: str
    course_id: int
    max_score: float
    policy: str
    students: list[GradescopeStudent]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # a cell starting with = + - @ is a formula to spreadsheets: neutralise it
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def grades_csv(platform: Platform, actor: Actor, assignment_id: int) -> str:
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        rows = best_rows(session, assignment)
        emails = _emails(session, rows)
    audit.record_read(platform, actor, "grades.export", f"assignment:{assignment.id}", format="csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values: dict[str, object] = {**row.model_dump(), "email": emails.get(row.user_id, "")}
        values["submitted_at"] = row.submitted_at.isoformat() if row.submitted_at else None
        writer.writerow([_cell(values[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def grades_gradescope(platform: Platform, actor: Actor, assignment_id: int) -> GradescopeExport:
    with platform.db.reading() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        rows = best_rows(session, assignment)
        emails = _emails(session, rows)
        students = []
        for row in rows:
            results = None
            run = session.get(GradingRun, row.run_id) if row.run_id is not None else None
            if run is not None and run.report is not None:
                results = to_gradescope(GradeReport.model_validate(run.report))
                results["score"] = row.counted_score
                results["extra_data"]["late_penalty"] = row.late_penalty
            students.append(
                GradescopeStudent(
                    username=row.username,
                    email=emails.get(row.user_id, ""),
                    submission_id=row.submission_id,
                    counted_score=row.counted_score,
                    late_penalty=row.late_penalty,
                    results=results,
                )
            )
        version = assignment.current_version
        audit.record_read(
            platform, actor, "grades.export", f"assignment:{assignment.id}", format="gradescope"
        )
        return GradescopeExport(
            assignment=assignment.slug,
            course_id=assignment.course_id,
            max_score=version.max_score if version is not None else 0.0,
            policy=assignment.best_policy,
            students=students,
        )


def _emails(session: Session, rows: list[BestOut]) -> dict[int, str]:
    ids = [row.user_id for row in rows]
    if not ids:
        return {}
    return {u.id: u.email for u in session.scalars(select(User).where(User.id.in_(ids)))}
