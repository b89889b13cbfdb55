"""Package uploads over real HTTP: a malformed package is a 400 that says what is
wrong, never a 500, and nothing is created (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from api_helpers import PASSWORD, Api, package_bytes, seeded_api, tar_of
from assay.services import Actor
from assay.services.catalog import courses
from assay.services.identity import accounts
from assay.storage.models import Role
from platform_helpers import DATABASE_KINDS

MANIFEST = b'[assignment]\nname = "odd"\n'


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path_factory.mktemp(f"packages-{request.param}")) as seeded:
        yield seeded


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_with_link(kind: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("assignment.toml")
        info.size = len(MANIFEST)
        archive.addfile(info, io.BytesIO(MANIFEST))
        link = tarfile.TarInfo("statement.md")
        link.type = kind
        link.linkname = "/etc/shadow" if kind == tarfile.SYMTYPE else "assignment.toml"
        archive.addfile(link)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """300 MiB of zeros (over the 256 MiB a package may expand to) in about 300 KiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("assignment.toml", MANIFEST)
        with archive.open("tests/zeros.txt", "w", force_zip64=True) as entry:
            chunk = bytes(1 << 20)
            for _ in range(300):
                entry.write(chunk)
    return buffer.getvalue()


CASES = {
    "garbage named .tar.gz": ("p.tar.gz", b"this is not an archive", "not a valid archive"),
    "garbage named .txt": ("p.txt", b"hello", "as a .zip or .tar(.gz) archive"),
    "symbolic link": ("p.tar.gz", tar_with_link(tarfile.SYMTYPE), "is a link"),
    "hard link": ("p.tar.gz", tar_with_link(tarfile.LNKTYPE), "is a link"),
    "dot-dot": ("p.zip", zip_of({"assignment.toml": MANIFEST, "../x": b"x"}), "'..'"),
    "absolute": ("p.zip", zip_of({"/etc/x": b"x"}), "absolute path"),
    "long entry name": ("p.zip", zip_of({"y" * 300: b"x"}), "at most 255 bytes"),
    "no manifest": ("p.zip", zip_of({"readme.txt": b"x"}), "no assignment.toml in the archive"),
    "manifest not UTF-8": ("p.zip", zip_of({"assignment.toml": b"\xff\xfe"}), "not valid UTF-8"),
    "title too long": (
        "p.zip",
        zip_of({"assignment.toml": MANIFEST + b'title = "' + b"t" * 300 + b'"\n'}),
        "at most 200 characters",
    ),
    "long file name": ("x" * 300 + ".tar.gz", package_bytes(), "at most 255 bytes"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_package_is_a_clear_400(api: Api, case: str) -> None:
    filename, data, words = CASES[case]
    with api.client("teacher") as teacher:
        before = teacher.get(f"/courses/{api.course_id}/assignments").json()
        answer = teacher.post(
            f"/admin/courses/{api.course_id}/assignments", files={"package": (filename, data)}
        )
        assert answer.status_code == 400, answer.text
        detail = answer.json()["detail"]
        assert words in detail
        assert "/tmp" not in detail and len(detail) < 400
        version = teacher.post(
            f"/admin/assignments/{api.assignment_id}/versions",
            files={"package": (filename, data)},
        )
        assert version.status_code == 400, version.text
        assert teacher.get(f"/courses/{api.course_id}/assignments").json() == before


def test_a_zip_bomb_is_a_clear_400(api: Api) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 1 << 20
    with api.client("teacher") as teacher:
        answer = teacher.post(
            f"/admin/courses/{api.course_id}/assignments", files={"package": ("b.zip", bomb)}
        )
    assert answer.status_code == 400, answer.text
    assert "larger than the archive limit" in answer.json()["detail"]


def test_a_nul_in_the_package_file_name_is_a_clear_400(api: Api) -> None:
    boundary = "assay-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="package"; '
        f'filename="p\x00.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
    )
    body = head.encode() + tar_of({"x": b"x"}) + f"\r\n--{boundary}--\r\n".encode()
    with api.client("teacher") as teacher:
        answer = teacher.post(
            f"/admin/courses/{api.course_id}/assignments",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["detail"]


def test_the_example_package_is_still_accepted(api: Api) -> None:
    with api.client("teacher") as teacher:
        answer = teacher.post(
            f"/admin/assignments/{api.assignment_id}/versions",
            files={"package": ("python-io.tar.gz", package_bytes())},
        )
    assert answer.status_code == 201, answer.text


def test_only_the_courses_staff_make_the_server_unpack_a_package(api: Api) -> None:
    # staff of another course pass the admin zone; they must not reach the extraction
    platform, system = api.platform, Actor.system()
    user = accounts.create_user(platform, system, "other-ta", PASSWORD)
    courses.enroll(platform, system, api.other_course_id, "other-ta", Role.TA)
    token = accounts.create_token_for(platform, system, user.id, "tests").token
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api.url + "/api/v1", headers=headers, timeout=30) as other_ta:
        answer = other_ta.post(
            f"/admin/courses/{api.course_id}/assignments",
            files={"package": ("p.tar.gz", b"this is not an archive")},
        )
    # refused as an outsider (before: 400 "not a valid archive", the package was unpacked)
    assert answer.status_code == 404, answer.text
    assert "archive" not in answer.text
