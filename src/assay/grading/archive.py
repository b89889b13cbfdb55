"""Safe extraction of zip and tar archives (submissions and assignment packages).

Only regular files and directories are extracted. Links, devices, FIFOs and
duplicate names are refused, and so are names that break the rule of
``assay.files.names`` (absolute, ``..``, NUL and control characters, a
component over 255 bytes, a path over 1024). Sizes are counted on the
decompressed bytes as they are written, never taken from the archive's headers,
so a zip bomb or a lying header stops at the limit. Backslashes in names are
read as separators (Windows zip tools write them), so ``..\\x`` is refused like
``../x``. Modes are reduced to 0o755 (any executable bit was set) or 0o644;
directories get 0o755.

On error, ``dest`` may hold a partial extraction: extract into a fresh
temporary directory and discard it on failure.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from assay.errors import FileNameError, SubmissionError
from assay.files.names import MAX_DEPTH, shown, split_name

CHUNK_BYTES = 64 * 1024  # small, so the per-entry count fires before the stream budget
HEADER_ALLOWANCE_BYTES = 4096  # tar headers (incl. long names) allowed per entry
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_NOT_ARCHIVES = frozenset({".jar", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub"})
_GZIP, _BZIP2, _XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"


@dataclass(frozen=True)
class ArchiveLimits:
    max_total_bytes: int  # all files, decompressed
    max_entries: int  # files and directories
    max_file_bytes: int | None = None  # one file, decompressed (None: only the total)
    max_depth: int = MAX_DEPTH  # path components (the name rule's bound: at most that)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a zip or (compressed) tar archive, by name or by content."""
    name = path.name.lower()
    if name.endswith((".zip", *_TAR_SUFFIXES)):
        return True
    if path.suffix.lower() in _NOT_ARCHIVES:
        return False  # zip containers that are documents or programs, not folders
    kind = _sniff(path)
    if kind in {"zip", "tar"}:
        return True
    if kind == "compressed":
        try:
            return tarfile.is_tarfile(path)
        except (OSError, EOFError, tarfile.TarError, zlib.error, lzma.LZMAError):
            return False
    return False


def extract_archive(path: Path, dest: Path, limits: ArchiveLimits) -> None:
    """Extract ``path`` into the directory ``dest`` (created if missing), within ``limits``."""
    dest.mkdir(parents=True, exist_ok=True)
    overhead = limits.max_entries * HEADER_ALLOWANCE_BYTES + 64 * 1024
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SubmissionError(f"cannot read {path.name}: {exc.strerror}") from exc
    if size > limits.max_total_bytes + overhead:
        raise SubmissionError(
            f"{path.name} is {size} bytes; archives are limited to {limits.max_total_bytes}"
        )
    writer = _Writer(path.name, dest, limits)
    kind = _sniff(path)
    is_tar = kind in {"tar", "compressed"} or path.name.lower().endswith(_TAR_SUFFIXES)
    if kind != "zip" and not is_tar:
        raise SubmissionError(f"{path.name} is not a zip or tar archive")
    try:
        if kind == "zip":
            _extract_zip(path, writer)
        else:
            _extract_tar(path, writer, limits.max_total_bytes + overhead)
    except SubmissionError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError) as exc:
        raise SubmissionError(f"{path.name} is not a valid archive: {exc}") from exc
    except (EOFError, zlib.error, lzma.LZMAError, NotImplementedError, ValueError) as exc:
        raise SubmissionError(f"{path.name} is damaged or truncated: {exc}") from exc
    except OSError as exc:
        # the strerror only: the exception's text names host paths
        raise SubmissionError(f"cannot extract {path.name}: {exc.strerror}") from exc


def _sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith((_GZIP, _BZIP2, _XZ)):
        return "compressed"
    return None


class _Writer:
    """Checks entries and writes them under ``dest``, counting what is written."""

    def __init__(self, archive: str, dest: Path, limits: ArchiveLimits) -> None:
        self.archive = archive
        self.dest = dest
        self.limits = limits
        self.names: set[str] = set()
        self.entries = 0
        self.total_bytes = 0

    def fail(self, entry: str, why: str) -> SubmissionError:
        return SubmissionError(f"{self.archive}: entry {shown(entry)} {why}")

    def check_name(self, raw: str) -> tuple[str, ...]:
        """The entry's path components, or an error naming it."""
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise SubmissionError(f"{self.archive} has more than {self.limits.max_entries} entries")
        try:
            parts = split_name(raw, lenient=True)
        except FileNameError as exc:
            raise self.fail(raw, exc.why) from None
        if len(parts) > self.limits.max_depth:
            raise self.fail(raw, f"is nested deeper than {self.limits.max_depth} directories")
        key = "/".join(parts)
        if key and key in self.names:
            raise self.fail(raw, "appears twice in the archive")
        self.names.add(key)
        return parts

    def directory(self, raw: str, parts: tuple[str, ...]) -> None:
        target = self._parents(raw, parts, len(parts))
        self._mkdir(raw, target)

    def file(self, raw: str, parts: tuple[str, ...], source: IO[bytes], executable: bool) -> None:
        if not parts:
            raise self.fail(raw, "has an empty file name")
        parent = self._parents(raw, parts, len(parts) - 1)
        target = parent / parts[-1]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        mode = 0o755 if executable else 0o644
        try:
            fd = os.open(target, flags, mode)
        except OSError as exc:
            raise self.fail(raw, f"cannot be written: {exc.strerror}") from exc
        written = 0
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            for chunk in _chunks(source):
                written += len(chunk)
                self.total_bytes += len(chunk)
                cap = self.limits.max_file_bytes
                if cap is not None and written > cap:
                    raise self.fail(raw, f"is larger than the per-file limit of {cap} bytes")
                if self.total_bytes > self.limits.max_total_bytes:
                    raise self.fail(
                        raw,
                        f"takes the archive past its limit of {self.limits.max_total_bytes} "
                        "bytes uncompressed",
                    )
                out.write(chunk)

    def _parents(self, raw: str, parts: tuple[str, ...], count: int) -> Path:
        here = self.dest
        for part in parts[:count]:
            here = here / part
            self._mkdir(raw, here)
        return here

    def _mkdir(self, raw: str, target: Path) -> None:
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            try:
                os.mkdir(target, 0o755)
                os.chmod(target, 0o755)  # noqa: S103 - directories must be traversable
            except OSError as exc:
                raise self.fail(raw, f"cannot be created: {exc.strerror}") from exc
            return
        if not stat.S_ISDIR(st.st_mode):
            raise self.fail(raw, "needs a directory where the archive has a file")


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


def _extract_zip(path: Path, writer: _Writer) -> None:
    limits = writer.limits
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise SubmissionError(f"{writer.archive} has more than {limits.max_entries} entries")
        for info in infos:
            raw = info.orig_filename
            parts = writer.check_name(raw)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                raise writer.fail(raw, "is a symbolic link; links are not accepted")
            if kind not in {0, stat.S_IFREG, stat.S_IFDIR}:
                raise writer.fail(raw, "is a device, FIFO or socket; only files are accepted")
            if info.flag_bits & 0x1:
                raise writer.fail(raw, "is encrypted")
            if info.is_dir() or kind == stat.S_IFDIR:
                writer.directory(raw, parts)
                continue
            cap = limits.max_file_bytes
            if cap is not None and info.file_size > cap:
                raise writer.fail(raw, f"is larger than the per-file limit of {cap} bytes")
            if info.file_size > limits.max_total_bytes:
                raise writer.fail(
                    raw, f"is larger than the archive limit of {limits.max_total_bytes} bytes"
                )
            with archive.open(info) as source:
                writer.file(raw, parts, source, bool(mode & 0o111))


def _extract_tar(path: Path, writer: _Writer, budget_bytes: int) -> None:
    with path.open("rb") as raw_file:
        stream = _open_decompressed(raw_file)
        try:
            counted = _Budget(stream, budget_bytes, writer.archive)
            with tarfile.open(fileobj=counted, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    _tar_member(archive, member, writer)
        finally:
            stream.close()


def _tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, writer: _Writer) -> None:
    raw = member.name
    parts = writer.check_name(raw)
    if member.issym() or member.islnk():
        raise writer.fail(raw, "is a link; links are not accepted")
    if member.ischr() or member.isblk() or member.isfifo():
        raise writer.fail(raw, "is a device or FIFO; only files are accepted")
    if member.issparse():
        raise writer.fail(raw, "is a sparse file; sparse files are not accepted")
    if member.isdir():
        writer.directory(raw, parts)
        return
    if not member.isreg():
        raise writer.fail(raw, f"has an unsupported type {member.type!r}")
    source = archive.extractfile(member)
    if source is None:  # pragma: no cover - isreg() members always have data
        raise writer.fail(raw, "has no data")
    with source:
        writer.file(raw, parts, source, bool(member.mode & 0o111))


def _open_decompressed(raw: BinaryIO) -> _Reader:
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(_BZIP2):
        return bz2.BZ2File(raw, mode="rb")
    if head.startswith(_XZ):
        return lzma.LZMAFile(raw, mode="rb")
    return raw


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


class _Budget:
    """A reader that fails once more than ``budget_bytes`` were read, in bounded chunks.

    The tar reader asks for a header's declared size in one call; reading in
    chunks keeps a lying header from allocating that much memory.
    """

    def __init__(self, inner: _Reader, budget_bytes: int, archive: str) -> None:
        self.inner = inner
        self.left = budget_bytes
        self.archive = archive

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        want = size if size >= 0 else None
        while want is None or want > 0:
            step = CHUNK_BYTES if want is None else min(want, CHUNK_BYTES)
            chunk = self.inner.read(step)
            if not chunk:
                break
            self.left -= len(chunk)
            if self.left < 0:
                raise SubmissionError(f"{self.archive} is larger than allowed once decompressed")
            parts.append(chunk)
            if want is not None:
                want -= len(chunk)
        return b"".join(parts)
