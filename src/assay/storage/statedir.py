"""Whether files can be written in the state directory now (for readiness).

Workspaces, unpacked packages and, in the embedded mode, the SQLite database and its
write-ahead log live there: a full or read-only file system stops grading and
submissions alike.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from assay.errors import StorageUnavailableError
from assay.storage.unavailable import cause

PROBE_BYTES = b"assay: can this directory be written?\n" * 64  # a few KiB, a block or two


def probe_writable(directory: Path) -> None:
    """Write and remove a small file in ``directory``; ``StorageUnavailableError`` if
    that fails (full, read-only, missing)."""
    probe = directory / f".write-probe-{os.getpid()}-{threading.get_ident()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as handle:
            handle.write(PROBE_BYTES)
    except OSError as exc:
        reason = cause(exc) or (exc.strerror or type(exc).__name__).lower()
        raise StorageUnavailableError(f"the state directory cannot be written: {reason}") from exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
