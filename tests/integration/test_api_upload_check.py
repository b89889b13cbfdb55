"""Uploading a package over the API runs its reference check (the solution must get
full marks, each known-bad submission its score), and a version that fails it is
published only with an explicit ``force``, which the audit log records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api_helpers import Api, python_io_copy, seeded_api
from assay.services.catalog.packages import pack_directory

pytestmark = [pytest.mark.native]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with seeded_api("sqlite", tmp_path) as seeded:
        yield seeded


def python_io(tmp_path: Path, name: str, *, broken: bool) -> bytes:
    """python-io under ``name``, packed (see ``python_io_copy``)."""
    return pack_directory(python_io_copy(tmp_path, name, broken=broken))


def audit(api: Api, action: str) -> list[dict[str, object]]:
    with api.client("admin") as admin:
        entries: list[dict[str, object]] = admin.get(
            "/admin/audit", params={"action": action}
        ).json()
    return entries


def test_a_failing_version_of_a_published_assignment_needs_force(api: Api, tmp_path: Path) -> None:
    broken = python_io(tmp_path, "python-io", broken=True)
    path = f"/admin/assignments/{api.assignment_id}/versions"
    with api.client("teacher") as teacher:
        refused = teacher.post(path, files={"package": ("p.tar.gz", broken)})
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "reference check" in detail and "7 / 10" in detail and "force" in detail
        assert teacher.get(f"/assignments/{api.assignment_id}").json()["version"] == 1

        forced = teacher.post(path, files={"package": ("p.tar.gz", broken)}, data={"force": "true"})
        assert forced.status_code == 201, forced.text
        body = forced.json()
        assert body["version"] == 2
        assert body["reference_check"] == "failed"
        assert body["reference"]["status"] == "failed"
    [entry] = audit(api, "assignment.version")
    assert entry["detail"]["forced"] is True
    assert entry["detail"]["check"] == "failed"


def test_a_new_assignment_is_checked_and_published_only_if_it_passes(
    api: Api, tmp_path: Path
) -> None:
    path = f"/admin/courses/{api.course_id}/assignments"
    with api.client("teacher") as teacher:
        good = python_io(tmp_path, "good-one", broken=False)
        created = teacher.post(
            path, files={"package": ("p.tar.gz", good)}, data={"publish": "true"}
        )
        assert created.status_code == 201, created.text
        assert created.json()["published"] is True
        assert created.json()["reference"]["status"] == "passed"

        bad = python_io(tmp_path, "bad-one", broken=True)
        refused = teacher.post(path, files={"package": ("p.tar.gz", bad)}, data={"publish": "true"})
        assert refused.status_code == 409, refused.text
        slugs = [a["slug"] for a in teacher.get(f"/courses/{api.course_id}/assignments").json()]
        assert "bad-one" not in slugs  # nothing was created

        hidden = teacher.post(path, files={"package": ("p.tar.gz", bad)})  # not published: kept
        assert hidden.status_code == 201, hidden.text
        assert hidden.json()["reference_check"] == "failed"
        patch = f"/admin/assignments/{hidden.json()['id']}"
        no = teacher.patch(patch, json={"published": True})
        assert no.status_code == 409, no.text
        assert "7 / 10" in no.json()["detail"]
        yes = teacher.patch(patch, json={"published": True, "force": True})
        assert yes.status_code == 200, yes.text
        assert yes.json()["published"] is True
    [entry] = audit(api, "assignment.publish_forced")
    assert entry["target"] == f"assignment:{hidden.json()['id']}"


def test_an_assignment_whose_check_never_ran_is_not_published_without_force(
    api: Api, tmp_path: Path
) -> None:
    with api.client("teacher") as teacher:
        teacher.patch(f"/admin/assignments/{api.assignment_id}", json={"published": False})
        # the seeded assignment was created by the services, never checked
        no = teacher.patch(f"/admin/assignments/{api.assignment_id}", json={"published": True})
        assert no.status_code == 409, no.text
        assert "never" in no.json()["detail"]
