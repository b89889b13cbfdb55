"""Intake over real HTTP (issue 16, item 7): a zip of one folder is unwrapped, a
submission lacking a required file (or naming it in another case) is refused before
it is stored or queued, and such a refusal is not charged to the rate limit."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_helpers import EXAMPLES, Api, seeded_api

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
