"""Where an importer writes a package: a new or empty directory, or with ``force``
one whose earlier import is replaced (only the names the importer writes)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from assay.errors import PackageError


def prepare_destination(dest: Path, *, force: bool, managed: Iterable[str]) -> None:
    """Make ``dest`` ready; with ``force``, remove what an import writes (``managed``)
    and leave everything else in it alone."""
    if dest.exists() and not dest.is_dir():
        raise PackageError(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise PackageError(f"{dest} is not empty", fix="choose a new directory or use --force")
        for name in managed:
            path = dest / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
    dest.mkdir(parents=True, exist_ok=True)
