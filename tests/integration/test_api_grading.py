"""Graded over real HTTP with real workers: scores, the student's report view,
best submission, regrade of a whole assignment (bulk lane) and grade exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api_helpers import EXAMPLES, Api, seeded_api, wait_done
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS

PYTHON_IO = EXAMPLES / "python-io"
SOLUTION = (PYTHON_IO / "solution" / "stats.py").read_bytes()
WRONG = (PYTHON_IO / "bad" / "wrong-answer" / "stats.py").read_bytes()
# contents of the hidden tests of python-io (stdin and expected output)
HIDDEN_CONTENTS = ("50 0 100 50 49 51", "0 12 49 3", "mean 16.00", "67 66 67", "mean 66.67")


@pytest.fixture(params=DATABASE_KINDS)
def graded_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    require_backend("native", "python3")
    with seeded_api(request.param, tmp_path) as api, WorkerPool(api.platform, 2):
        yield api


def submit(client: httpx.Client, assignment_id: int, source: bytes) -> int:
    response = client.post(
        f"/assignments/{assignment_id}/submissions", files=[("files", ("stats.py", source))]
    )
    assert response.status_code == 201, response.text
    submission_id: int = response.json()["id"]
    return submission_id


def test_grades_reports_best_regrade_and_exports(graded_api: Api) -> None:
    api = graded_api
    with api.client("alice") as alice, api.client("bob") as bob, api.client("ta") as ta:
        good = submit(alice, api.assignment_id, SOLUTION)
        assert wait_done(alice, good)["score"] == 10.0
        wrong = submit(bob, api.assignment_id, WRONG)
        graded = wait_done(bob, wrong)
        assert graded["status"] == "graded"
        assert (graded["score"], graded["tests_passed"], graded["tests_total"]) == (7.0, 7, 10)

        # students: hidden tests keep their verdict, lose their contents
        student = bob.get(f"/submissions/{wrong}/report")
        assert student.status_code == 200
        view = student.json()
        assert view["staff_view"] is False
        assert view["report"]["tampered"] is None
        hidden = [t for t in view["report"]["tests"] if t["visibility"] == "hidden"]
        assert hidden and all(t["expected"] is None and t["output"] == "" for t in hidden)
        assert {t["status"] for t in hidden} == {"passed", "failed"}
        for text in HIDDEN_CONTENTS:
            assert text not in student.text
        staff = ta.get(f"/submissions/{wrong}/report").json()
        assert staff["staff_view"] is True
        assert any(
            t["expected"] and "passed 4" in t["expected"]
            for t in staff["report"]["tests"]
            if t["name"] == "pass-mark-boundaries"
        )

        best = bob.get(f"/assignments/{api.assignment_id}/best").json()
        assert (best["submission_id"], best["counted_score"]) == (wrong, 7.0)
        assert best["tampered"] is None

        # regrade the whole assignment in the bulk lane: new runs, same scores
        regrade = ta.post(f"/admin/assignments/{api.assignment_id}/regrade")
        assert regrade.status_code == 202, regrade.text
        assert regrade.json()["queued"] == 2
        for submission_id in (good, wrong):
            done = wait_done(ta, submission_id)
            assert done["run_id"] in regrade.json()["run_ids"]
            assert done["status"] == "graded"
        runs = ta.get(f"/submissions/{wrong}/report").json()
        assert runs["run_id"] in regrade.json()["run_ids"]

        results = {
            r["username"]: r
            for r in ta.get(f"/admin/assignments/{api.assignment_id}/results").json()
        }
        assert results["alice"]["counted_score"] == 10.0
        assert results["bob"]["counted_score"] == 7.0

        exported = ta.get(f"/admin/assignments/{api.assignment_id}/grades.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = {r["username"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        assert (rows["alice"]["counted_score"], rows["bob"]["counted_score"]) == ("10.0", "7.0")

        gradescope = ta.get(f"/admin/assignments/{api.assignment_id}/grades.json")
        assert gradescope.status_code == 200
        students = {s["username"]: s for s in gradescope.json()["students"]}
        assert students["bob"]["results"]["score"] == 7.0
        assert len(students["bob"]["results"]["tests"]) == 10
        for text in HIDDEN_CONTENTS:
            assert text not in gradescope.text
