"""A student's submission: files read from a directory, a single file or an archive.

Everything is read into memory with size and count limits before grading;
links, devices and names that break ``assay.grading.filenames``' rule (too long,
control characters, absolute, ``..``) are refused, and ``.git`` is dropped (its
history and credentials never enter the sandbox).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assay.errors import SubmissionError
from assay.grading.archive import ArchiveLimits, extract_archive, is_archive
from assay.grading.filenames import check_name, shown

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".hg", ".svn"})
DEFAULT_LIMITS = ArchiveLimits(max_total_bytes=64 * 1024 * 1024, max_entries=2000)


@dataclass(frozen=True)
class SubmittedFile:
    path: str  # relative, POSIX, normalised
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class Submission:
    files: tuple[SubmittedFile, ...]

    @classmethod
    def from_mapping(cls, files: Mapping[str, bytes | str]) -> Submission:
        """A submission from in-memory files (API uploads, tests)."""
        out: dict[str, SubmittedFile] = {}
        for path, data in sorted(files.items()):
            name = check_name(path)
            if name in out:
                raise SubmissionError(f"{shown(path)} names the same file as another one")
            out[name] = SubmittedFile(name, data.encode() if isinstance(data, str) else data)
        return cls(tuple(out.values()))

    def as_mapping(self) -> dict[str, bytes]:
        return {f.path: f.data for f in self.files}

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)


def load_submission(source: str | Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> Submission:
    """Read a submission directory, single file, or zip/tar archive of one."""
    source = Path(source)
    try:
        st = source.lstat()
    except FileNotFoundError:
        raise SubmissionError(f"{source} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise SubmissionError(f"{source} is a symbolic link; give the file or directory itself")
    if stat.S_ISDIR(st.st_mode):
        return _load_dir(source, limits)
    if not stat.S_ISREG(st.st_mode):
        raise SubmissionError(f"{source} is not a regular file or directory")
    if is_archive(source):
        with tempfile.TemporaryDirectory(prefix="assay-submission-") as tmp:
            extract_archive(source, Path(tmp), limits)
            return _load_dir(Path(tmp), limits)
    if st.st_size > limits.max_total_bytes:
        raise SubmissionError(
            f"{source.name} is {st.st_size} bytes; the limit is {limits.max_total_bytes}"
        )
    return Submission((SubmittedFile(source.name, source.read_bytes(), bool(st.st_mode & 0o111)),))


def _load_dir(root: Path, limits: ArchiveLimits) -> Submission:
    files: list[SubmittedFile] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        here = Path(dirpath)
        for name in [*dirnames, *sorted(filenames)]:
            full = here / name
            rel = check_name(full.relative_to(root).as_posix())
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise SubmissionError(f"{rel} is a symbolic link; links are not accepted")
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise SubmissionError(f"{rel} is not a regular file")
            total += st.st_size
            if total > limits.max_total_bytes:
                raise SubmissionError(
                    f"the submission is larger than {limits.max_total_bytes} bytes"
                )
            if len(files) + 1 > limits.max_entries:
                raise SubmissionError(f"the submission has more than {limits.max_entries} files")
            files.append(SubmittedFile(rel, full.read_bytes(), bool(st.st_mode & 0o111)))
    if not files:
        raise SubmissionError(f"{root} contains no files")
    return Submission(tuple(files))
