"""The package cache the workers and starter downloads share: a package's archive is
read (from the database) only when it is not unpacked yet."""

from __future__ import annotations

from pathlib import Path

from assay.services.catalog import packages

EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"


def test_the_archive_is_read_once_per_digest(tmp_path: Path) -> None:
    archive = packages.pack_directory(EXAMPLE)
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return archive

    first = packages.unpacked(tmp_path, "d1", read)
    again = packages.unpacked(tmp_path, "d1", read)
    assert first == again == tmp_path / "d1"
    assert (first / "assignment.toml").is_file() and (first / ".complete").exists()
    assert len(reads) == 1
