"""A student's submission read from a directory, a single file or an archive.

Everything is read into a ``FileSet`` with size and count limits before grading;
links, devices and names that break ``assay.files.names``' rule (too long,
control characters, absolute, ``..``) are refused, and ``.git`` is dropped (its
history and credentials never enter the sandbox).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from assay.errors import SubmissionError
from assay.files.fileset import MAX_FILES, MAX_TOTAL_BYTES, File, FileSet
from assay.files.names import check_name
from assay.grading.archive import ArchiveLimits, extract_archive, is_archive

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".hg", ".svn"})
DEFAULT_LIMITS = ArchiveLimits(max_total_bytes=MAX_TOTAL_BYTES, max_entries=MAX_FILES)


def load_submission(source: str | Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> FileSet:
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
    return FileSet((File(source.name, source.read_bytes(), bool(st.st_mode & 0o111)),))


def _load_dir(root: Path, limits: ArchiveLimits) -> FileSet:
    files: list[File] = []
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
            files.append(File(rel, full.read_bytes(), bool(st.st_mode & 0o111)))
    if not files:
        raise SubmissionError(f"{root} contains no files")
    return FileSet(tuple(files))
