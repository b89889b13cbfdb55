"""Submissions over real HTTP: the three upload forms, status, report, lists, limits."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_helpers import EXAMPLES, Api, seeded_api, tar_of
from platform_helpers import DATABASE_KINDS

SOLUTION = (EXAMPLES / "python-io" / "solution" / "stats.py").read_bytes()


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path) as seeded:
        yield seeded


def test_multipart_json_and_archive_submissions_are_stored_and_queued(api: Api) -> None:
    path = f"/assignments/{api.assignment_id}/submissions"
    with api.client("alice") as alice:
        multipart = alice.post(path, files=[("files", ("stats.py", SOLUTION))])
        assert multipart.status_code == 201, multipart.text
        body = multipart.json()
        assert body["status"] == "queued"
        assert body["user_id"] == api.user_ids["alice"]

        as_json = alice.post(path, json={"files": {"stats.py": SOLUTION.decode()}})
        assert as_json.status_code == 201, as_json.text
        as_b64 = alice.post(
            path,
            json={"files": {"stats.py": base64.b64encode(SOLUTION).decode()}, "encoding": "base64"},
        )
        assert as_b64.status_code == 201, as_b64.text
        archive = tar_of({"stats.py": SOLUTION, ".git/config": b"[credential]\n"})
        as_tar = alice.post(path, files=[("files", ("work.tar.gz", archive))])
        assert as_tar.status_code == 201, as_tar.text
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zipped:
            zipped.writestr("stats.py", SOLUTION)
        as_zip = alice.post(path, files=[("files", ("work.zip", buffer.getvalue()))])
        assert as_zip.status_code == 201, as_zip.text

        # the same files whatever the form (.git dropped from the archive)
        hashes = {r.json()["content_sha256"] for r in (multipart, as_json, as_b64, as_tar, as_zip)}
        assert len(hashes) == 1

        # each resubmission cancelled the previous queued one
        first = alice.get(f"/submissions/{body['id']}")
        assert first.status_code == 200
        assert first.json()["status"] == "cancelled"
        latest = alice.get(f"/submissions/{as_zip.json()['id']}").json()
        assert latest["status"] == "queued"

        report = alice.get(f"/submissions/{as_zip.json()['id']}/report").json()
        assert report["report"] is None and report["status"] == "queued"
        assert report["staff_view"] is False

        mine = alice.get("/submissions").json()
        assert [s["id"] for s in mine] == sorted(
            (r.json()["id"] for r in (multipart, as_json, as_b64, as_tar, as_zip)), reverse=True
        )
        assert alice.get(path).json() == mine


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("files", ("../evil.py", b"x"))], 400, "'..' in its path"),
        ([("files", ("a.tar", tar_of({"../x": b"x"})))], 400, "archive refused"),
        ([("other", ("stats.py", b"x"))], 400, "at least one file"),
    ],
)
def test_bad_uploads_are_refused(
    api: Api, files: list[tuple[str, tuple[str, bytes]]], status: int, words: str
) -> None:
    with api.client("alice") as alice:
        response = alice.post(f"/assignments/{api.assignment_id}/submissions", files=files)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_json_validation_errors_are_422(api: Api) -> None:
    with api.client("alice") as alice:
        response = alice.post(
            f"/assignments/{api.assignment_id}/submissions", json={"files": "not a mapping"}
        )
        assert response.status_code == 422
        bad64 = alice.post(
            f"/assignments/{api.assignment_id}/submissions",
            json={"files": {"stats.py": "%%%"}, "encoding": "base64"},
        )
        assert bad64.status_code == 400
        assert "base64" in bad64.json()["detail"]
        form = alice.post(f"/assignments/{api.assignment_id}/submissions", data={"a": "b"})
        assert form.status_code == 400
        assert "multipart" in form.json()["detail"]


def multipart_with_name(name: str) -> tuple[bytes, dict[str, str]]:
    """A multipart body of one file named ``name`` byte for byte (clients escape names)."""
    boundary = "assay-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{name}"\r\nContent-Type: text/x-python\r\n\r\n'
    )
    body = head.encode() + b"print(1)\n" + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a\x00b.py", "NUL or control character"),
        ("tab\there.py", "control character"),
        ("x" * 300 + ".py", "each may be at most 255 bytes"),
        ("/etc/passwd", "absolute path"),
    ],
)
def test_multipart_file_names_are_checked(api: Api, name: str, words: str) -> None:
    body, headers = multipart_with_name(name)
    with api.client("alice") as alice:
        path = f"/assignments/{api.assignment_id}/submissions"
        alone = alice.post(path, content=body, headers=headers)
        assert alone.status_code == 400, alone.text
        assert words in alone.json()["detail"]
        assert len(alone.json()["detail"]) < 300
        assert alice.get("/submissions").json() == []


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("a" * 5000 + ".py", "a path may be at most 1024 bytes"),
        ("src/" + "b" * 256 + ".py", "each may be at most 255 bytes"),
        ("a\x00b.py", "NUL or control character"),
        ("new\nline.py", "control character"),
        ("dir/", "empty or '.' component"),
        ("a//b.py", "empty or '.' component"),
        ("../up.py", "'..'"),
    ],
)
def test_json_file_names_are_checked(api: Api, name: str, words: str) -> None:
    with api.client("alice") as alice:
        path = f"/assignments/{api.assignment_id}/submissions"
        refused = alice.post(path, json={"files": {"stats.py": "x", name: "y"}})
        assert refused.status_code == 400, refused.text
        assert words in refused.json()["detail"]
        assert len(refused.json()["detail"]) < 300
        assert alice.get("/submissions").json() == []


def test_invalid_utf8_in_a_json_body_is_422(api: Api) -> None:
    with api.client("alice") as alice:
        answer = alice.post(
            f"/assignments/{api.assignment_id}/submissions",
            content=b'{"files": {"stats.py": "\xff\xfe"}}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    assert "Invalid JSON" in answer.json()["detail"][0]["msg"]
