"""Intake over real HTTP (issue 16, item 7): a zip of one folder is unwrapped, a
submission lacking a required file (or naming it in another case) is refused before
it is stored or queued, and such a refusal is not charged to the rate limit."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_helpers import EXAMPLES, Api, seeded_api, tar_of

SOLUTION = (EXAMPLES / "python-io" / "solution" / "stats.py").read_bytes()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with seeded_api("sqlite", tmp_path, submit_rate_limit_per_minute=2) as seeded:
        yield seeded


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_one_top_folder_holding_the_required_files_is_unwrapped(api: Api) -> None:
    path = f"/assignments/{api.assignment_id}/submissions"
    with api.client("alice") as alice:
        flat = alice.post(path, files=[("files", ("w.zip", zip_of({"stats.py": SOLUTION})))])
        assert flat.status_code == 201, flat.text
        nested = zip_of({"my-work/stats.py": SOLUTION})
        wrapped = alice.post(path, files=[("files", ("w.zip", nested))])
        assert wrapped.status_code == 201, wrapped.text
        # the same files as the flat archive: the folder was taken off
        assert wrapped.json()["content_sha256"] == flat.json()["content_sha256"]


def test_two_folders_deep_and_a_folder_without_them_are_not_unwrapped(api: Api) -> None:
    path = f"/assignments/{api.assignment_id}/submissions"
    with api.client("alice") as alice:
        archive = tar_of({"a/b/stats.py": SOLUTION})
        refused = alice.post(path, files=[("files", ("w.tar.gz", archive))])
        assert refused.status_code == 400, refused.text
        assert "stats.py" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"Stats.py": SOLUTION}, ["Stats.py", "stats.py", "case"]),
        ({"src/STATS.PY": SOLUTION}, ["src/STATS.PY", "stats.py"]),
        ({"other.py": SOLUTION}, ["required file", "stats.py"]),
    ],
)
def test_a_missing_or_miscased_required_file_is_refused_and_not_charged(
    api: Api, files: dict[str, bytes], words: list[str]
) -> None:
    path = f"/assignments/{api.assignment_id}/submissions"
    with api.client("alice") as alice:
        for _ in range(4):  # more than the limit of 2 a minute: refusals are not charged
            refused = alice.post(path, files=[("files", (n, d)) for n, d in files.items()])
            assert refused.status_code == 400, refused.text
            for word in words:
                assert word in refused.json()["detail"]
        assert alice.get(f"/assignments/{api.assignment_id}/submissions").json() == []
        ok = alice.post(path, json={"files": {"stats.py": SOLUTION.decode()}})
        assert ok.status_code == 201, ok.text
