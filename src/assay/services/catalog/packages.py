"""Assignment packages as bytes: validating uploads and unpacking them for workers."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from assay.errors import FileNameError, InvalidRequestError, PackageError
from assay.files.names import check_name
from assay.grading.archive import is_archive
from assay.grading.loader import load_package
from assay.grading.package import AssignmentPackage
from assay.grading.submission import SKIPPED_DIRS
from assay.storage.unavailable import disk_writes

MAX_PACKAGE_BYTES = 64 * 1024 * 1024


class PackageSummary(BaseModel):
    name: str
    title: str
    environment: str
    version: str
    max_score: float
    tests: int
    statement: str


def summarize(package: AssignmentPackage) -> PackageSummary:
    meta = package.spec.assignment
    return PackageSummary(
        name=meta.name,
        title=meta.title or meta.name,
        environment=meta.environment,
        version=meta.version,
        max_score=package.max_score,
        tests=len(package.spec.tests),
        statement=package.statement,
    )


def pack_directory(root: Path) -> bytes:
    """A package directory as a .tar.gz (what `assay assignment upload` sends)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if full.is_symlink() or not full.is_file():
                    continue
                archive.add(full, arcname=full.relative_to(root).as_posix(), recursive=False)
    return buffer.getvalue()


def validate(data: bytes, filename: str = "package.tar.gz") -> PackageSummary:
    """Load an uploaded package archive; PackageError says what is wrong with it."""
    if len(data) > MAX_PACKAGE_BYTES:
        raise InvalidRequestError(f"a package may be at most {MAX_PACKAGE_BYTES} bytes")
    name = PurePosixPath(filename.replace("\\", "/")).name or "package.tar.gz"
    try:
        check_name(name)  # the last part only: a client may send its own full path
    except FileNameError as exc:
        raise InvalidRequestError(f"the package's {exc.message}") from exc
    with tempfile.TemporaryDirectory(prefix="assay-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        if not is_archive(path):
            raise InvalidRequestError("upload the package as a .zip or .tar(.gz) archive")
        try:
            with load_package(path) as package:
                return summarize(package)
        except PackageError as exc:
            raise InvalidRequestError(f"invalid package: {exc.message}") from exc


def unpacked(cache_dir: Path, digest: str, read: Callable[[], bytes]) -> Path:
    """The package archive ``digest`` extracted under ``cache_dir`` (once per digest);
    ``read`` gives the archive's bytes, and is called only when it is not there yet.

    A cache directory that cannot be written now (full, read-only) raises
    ``StorageUnavailableError``.
    """
    target = cache_dir / digest
    if (target / ".complete").exists():
        return target
    with disk_writes():
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=cache_dir))
    try:
        with disk_writes():
            archive = staging / "package.tar.gz"
            archive.write_bytes(read())
            with load_package(archive) as package:
                shutil.copytree(package.root, staging / "tree")
            (staging / "tree" / ".complete").touch()
            try:
                (staging / "tree").rename(target)
            except OSError:
                if not (target / ".complete").exists():  # lost a race to another thread
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
