"""Best submission per student under each policy, with late penalties, on both databases.

Runs are marked graded directly in the database (what a worker records), so the
policies are checked on exact numbers without a sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api_helpers import Api, seeded_api
from assay.storage.models import GradingRun, RunStatus, Submission, utcnow
from platform_helpers import DATABASE_KINDS


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path) as seeded:
        yield seeded


def grade(api: Api, submission_id: int, passed: int, score: float, late_minutes: int = 0) -> None:
    with api.platform.db.session() as session:
        run = session.scalars(
            select(GradingRun)
            .where(GradingRun.submission_id == submission_id)
            .order_by(GradingRun.id.desc())
        ).first()
        assert run is not None
        run.status = RunStatus.GRADED
        run.tests_passed, run.tests_total = passed, 10
        run.score, run.max_score = score, 10.0
        run.finished_at = utcnow()
        submission = session.get(Submission, submission_id)
        assert submission is not None
        submission.late_minutes = late_minutes


def test_policies_pick_as_documented(api: Api) -> None:
    with api.client("alice") as alice, api.client("teacher") as teacher:
        ids = []
        for n in range(3):
            response = alice.post(
                f"/assignments/{api.assignment_id}/submissions",
                json={"files": {"stats.py": f"# try {n}\n"}},
            )
            assert response.status_code == 201
            ids.append(response.json()["id"])
        # passed/score: 8 tests but weighted 6.0; then 8 tests 5.0 (more recent); then 3 tests 9.0
        grade(api, ids[0], 8, 6.0)
        grade(api, ids[1], 8, 5.0)
        grade(api, ids[2], 3, 9.0)

        def best_for(policy: str) -> dict[str, object]:
            patch = teacher.patch(
                f"/admin/assignments/{api.assignment_id}", json={"best_policy": policy}
            )
            assert patch.status_code == 200, patch.text
            rows = teacher.get(f"/admin/assignments/{api.assignment_id}/results").json()
            (row,) = [r for r in rows if r["username"] == "alice"]
            mine = alice.get(f"/assignments/{api.assignment_id}/best").json()
            assert mine["submission_id"] == row["submission_id"]
            return dict(row)

        most = best_for("most_passed")  # most tests passed, then the most recent (Anubis)
        assert (most["submission_id"], most["counted_score"]) == (ids[1], 5.0)
        assert best_for("latest")["submission_id"] == ids[2]
        assert best_for("highest")["submission_id"] == ids[2]
        rows = teacher.get(f"/admin/assignments/{api.assignment_id}/results").json()
        bob = next(r for r in rows if r["username"] == "bob")
        assert (bob["submissions"], bob["submission_id"], bob["counted_score"]) == (0, None, None)
        assert {r["username"] for r in rows} == {"alice", "bob"}


def test_late_penalty_counts_per_started_day(api: Api) -> None:
    with api.client("alice") as alice, api.client("teacher") as teacher:
        due = (utcnow() + timedelta(days=1)).isoformat()
        patch = teacher.patch(
            f"/admin/assignments/{api.assignment_id}",
            json={
                "due_at": due,
                "best_policy": "highest",
                "late_policy": {"grace_minutes": 10, "penalty_per_day": 0.25, "max_late_days": 3},
            },
        )
        assert patch.status_code == 200, patch.text
        on_time = alice.post(
            f"/assignments/{api.assignment_id}/submissions", json={"files": {"stats.py": "1"}}
        ).json()["id"]
        late = alice.post(
            f"/assignments/{api.assignment_id}/submissions", json={"files": {"stats.py": "2"}}
        ).json()["id"]
        grade(api, on_time, 7, 7.0)
        grade(api, late, 10, 10.0, late_minutes=24 * 60 + 1)  # two started days: -50 %
        rows = teacher.get(f"/admin/assignments/{api.assignment_id}/results").json()
        (row,) = [r for r in rows if r["username"] == "alice"]
        assert (row["submission_id"], row["counted_score"], row["late_penalty"]) == (
            on_time,
            7.0,
            0.0,
        )
        grade(api, late, 10, 10.0, late_minutes=30)  # one started day: -25 % -> 7.5 wins
        rows = teacher.get(f"/admin/assignments/{api.assignment_id}/results").json()
        (row,) = [r for r in rows if r["username"] == "alice"]
        assert (row["submission_id"], row["counted_score"], row["late_penalty"]) == (
            late,
            7.5,
            0.25,
        )
