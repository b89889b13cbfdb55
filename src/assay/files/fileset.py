"""A set of files: the one immutable type a submission's files travel in.

Intake builds it (JSON and multipart uploads, archives, a directory, a git
commit), storage packs it into a tar and unpacks it (``assay.storage.filesets``),
grading lays it out in the sandbox. However it was built, a ``FileSet`` holds:

- every name normalised by ``assay.files.names``' rule (a backslash read as a
  separator), so no one downstream checks names again;
- no two files of the same name;
- at most ``MAX_FILES`` files of ``MAX_TOTAL_BYTES`` in all: the ceiling of any
  intake (a directory or archive given to ``assay grade``); the web intake's own
  limits are lower and refused before a set is built.

A name breaking the rule raises ``FileNameError``, a set past the ceiling
``FileSetTooLargeError``, two files of one name ``SubmissionError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from assay.errors import FileSetTooLargeError, SubmissionError
from assay.files.names import check_name, shown

MAX_FILES = 2000
MAX_TOTAL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class File:
    path: str  # relative POSIX path, normalised by the name rule
    data: bytes
    executable: bool = False

    def __post_init__(self) -> None:
        normal = check_name(self.path)
        if normal != self.path:
            object.__setattr__(self, "path", normal)


@dataclass(frozen=True)
class FileSet:
    files: tuple[File, ...]  # in the order given

    def __post_init__(self) -> None:
        if len(self.files) > MAX_FILES:
            raise FileSetTooLargeError(f"the submission has more than {MAX_FILES} files")
        if self.total_bytes > MAX_TOTAL_BYTES:
            raise FileSetTooLargeError(f"the submission is larger than {MAX_TOTAL_BYTES} bytes")
        seen: set[str] = set()
        for item in self.files:
            if item.path in seen:
                raise SubmissionError(f"{shown(item.path)} names the same file as another one")
            seen.add(item.path)

    @classmethod
    def from_mapping(cls, files: Mapping[str, bytes | str]) -> FileSet:
        """A file set from in-memory files (API uploads, tests), sorted by name."""
        out: dict[str, File] = {}
        for path, data in sorted(files.items()):
            item = File(path, data.encode() if isinstance(data, str) else data)
            if item.path in out:
                raise SubmissionError(f"{shown(path)} names the same file as another one")
            out[item.path] = item
        return cls(tuple(out.values()))

    def as_mapping(self) -> dict[str, bytes]:
        return {f.path: f.data for f in self.files}

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)

    def __iter__(self) -> Iterator[File]:
        return iter(self.files)
