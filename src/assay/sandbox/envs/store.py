"""The store of built environments: one directory per key, never half made.

Layout of the store directory (``Settings.environments_dir``)::

    <key>/rootfs       the tree (what a sandbox will use as its read-only /)
    <key>/spec.json    the canonical document the key is the SHA-256 of
    <key>/build.log    the build's log
    <key>/meta.json    name, size, build time, created, last used, builder
    <key>.lock         flock'ed while <key> is built or removed (never deleted)
    .build-<key>-*/    a build in progress (renamed to <key> when it succeeds)
    failed/<key>.log   the log of the last failed build of <key>

Invariants: ``<key>/`` exists only complete (a build is renamed into place in one
``rename``); one build of a key at a time (``<key>.lock``, exclusive), and whoever
waited for it finds the result instead of building again; a failed or interrupted
build leaves only its log in ``failed/``; a tree in use (``use``: the lock shared)
is not removed. A key missing here is first asked of the ``RemoteSource``, if
there is one (workers fetch from the platform: ``services.catalog.environments``),
before its base is ensured and it is built.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from assay.errors import EnvironmentBuildError, UnknownEnvironmentError
from assay.sandbox.envs.buildlog import BuildEvent, BuildLog, ProgressCallback, no_progress
from assay.sandbox.envs.plan import BuildPlan, canonical_bytes, compute_key

ROOTFS = "rootfs"
SPEC_JSON = "spec.json"
META_JSON = "meta.json"
BUILD_LOG = "build.log"
FAILED = "failed"
_BUILD_PREFIX = ".build-"
_TRASH_PREFIX = ".trash-"
_KEY_LENGTH = 64
TOUCH_INTERVAL_S = 60.0
"""A lookup records its time unless one was recorded this recently (gc counts in days)."""


class Builder(Protocol):
    """Makes the tree of a plan at ``target`` (``base_rootfs``: its base's built tree)."""

    @property
    def name(self) -> str: ...

    def build(
        self, plan: BuildPlan, target: Path, log: BuildLog, base_rootfs: Path | None
    ) -> None: ...


class RemoteSource(Protocol):
    """Where a missing key may come from before it is built (distribution to workers).

    ``fetch`` fills the empty directory ``destination`` with ``rootfs/``,
    ``spec.json`` and ``meta.json`` and returns True, or returns False when it
    does not have ``key``. The store checks that ``spec.json`` hashes to ``key``.
    """

    def fetch(self, key: str, destination: Path) -> bool: ...


class Source(StrEnum):
    """Where ``ensure`` found a tree."""

    STORE = "store"  # built before
    WAITED = "waited"  # built by another process while this one waited for the lock
    FETCHED = "fetched"  # from the remote source
    BUILT = "built"  # built by this call


class Removal(StrEnum):
    """What ``EnvironmentStore.remove`` did."""

    REMOVED = "removed"
    ABSENT = "absent"
    IN_USE = "in use"


@dataclass(frozen=True)
class EnvironmentMeta:
    key: str
    name: str
    origin: str
    builder: str
    size_bytes: int
    build_seconds: float
    created: str
    last_used: str

    @property
    def last_used_at(self) -> datetime:
        return datetime.fromisoformat(self.last_used)


@dataclass(frozen=True)
class BuildOutcome:
    """What ``ensure`` did, and how long it took (waiting included)."""

    key: str
    rootfs: Path
    meta: EnvironmentMeta
    source: Source
    seconds: float

    @property
    def cached(self) -> bool:
        """Not built by this call."""
        return self.source is not Source.BUILT


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def disk_usage(root: Path) -> int:
    """Bytes the tree takes on disk (hard links counted once, symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            info = os.lstat(os.path.join(directory, name))
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


class EnvironmentStore:
    """Built environments under ``root``; ``ensure`` builds a plan at most once."""

    def __init__(
        self, root: Path, builder: Builder | None = None, remote: RemoteSource | None = None
    ) -> None:
        self.root = root
        self.builder = builder
        self.remote = remote

    # --- lookups --------------------------------------------------------------------

    def entry_dir(self, key: str) -> Path:
        if not _is_key(key):
            raise UnknownEnvironmentError(f"not an environment key: {key!r}")
        return self.root / key

    def meta(self, key: str) -> EnvironmentMeta | None:
        try:
            data = json.loads((self.entry_dir(key) / META_JSON).read_text(encoding="utf-8"))
            return EnvironmentMeta(**data)
        except (OSError, ValueError, TypeError):
            return None

    def lookup(self, key: str, *, touch: bool = True) -> Path | None:
        """The built tree of ``key`` (its use recorded, at most once a minute), or None."""
        meta = self.meta(key)
        rootfs = self.entry_dir(key) / ROOTFS
        if meta is None or not rootfs.is_dir():
            return None
        if touch and time.time() - meta.last_used_at.timestamp() >= TOUCH_INTERVAL_S:
            try:
                self._write_meta(self.entry_dir(key), replace(meta, last_used=_now()))
            except OSError:  # removed meanwhile, or a read-only store: the use is not recorded
                return rootfs if rootfs.is_dir() else None
        return rootfs

    def entries(self) -> list[EnvironmentMeta]:
        """Every complete environment in the store."""
        if not self.root.is_dir():
            return []
        found = (self.meta(p.name) for p in self.root.iterdir() if _is_key(p.name) and p.is_dir())
        return sorted((m for m in found if m is not None), key=lambda m: (m.name, m.key))

    def resolve_key(self, prefix: str) -> str:
        """The one stored key starting with ``prefix`` (at least 6 characters)."""
        matches = [m.key for m in self.entries() if m.key.startswith(prefix.lower())]
        if len(prefix) < 6 or len(matches) != 1:
            why = "no" if not matches else "more than one" if len(matches) > 1 else "a longer"
            raise UnknownEnvironmentError(f"{why} stored environment key matches {prefix!r}")
        return matches[0]

    def failed_log(self, key: str) -> Path:
        return self.root / FAILED / f"{key}.log"

    # --- building -------------------------------------------------------------------

    def ensure(self, plan: BuildPlan, progress: ProgressCallback = no_progress) -> BuildOutcome:
        """The built tree of ``plan``: from the store, a remote source, or built now."""
        started = time.monotonic()
        found = self._hit(plan.key, started, Source.STORE)
        if found is not None:
            return found
        if self.remote is not None:  # a fetched tree is whole: its base is not needed
            fetched = self._fetched(plan, progress, started)
            if fetched is not None:
                return fetched
        base_rootfs = self.ensure(plan.base, progress).rootfs if plan.base else None
        built = self._built(plan, started)
        with self._locked(plan.key, plan.name, progress, built=built) as locked:
            found = self._hit(plan.key, started, Source.WAITED)  # built by the lock's holder
            if found is not None:
                return found
            if not locked:  # it was there, and is gone again: start over
                return self.ensure(plan, progress)
            self._clear_leftovers(plan.key)
            return self._build(plan, base_rootfs, progress, started)

    def _fetched(
        self, plan: BuildPlan, progress: ProgressCallback, started: float
    ) -> BuildOutcome | None:
        """The tree of ``plan`` from the remote source (or made meanwhile by another
        process); None if the source does not have it."""
        built = self._built(plan, started)
        with self._locked(plan.key, plan.name, progress, built=built) as locked:
            found = self._hit(plan.key, started, Source.WAITED)
            if found is not None:
                return found
            if not locked:  # it was there, and is gone again: start over
                return self.ensure(plan, progress)
            self._clear_leftovers(plan.key)
            return self._fetch(plan.key, started)

    def _built(self, plan: BuildPlan, started: float) -> Callable[[], bool]:
        """Whether ``plan``'s tree is in the store now (for ``_locked``'s wait)."""
        return lambda: self._hit(plan.key, started, Source.WAITED) is not None

    def _hit(self, key: str, started: float, source: Source) -> BuildOutcome | None:
        rootfs = self.lookup(key)
        meta = self.meta(key)
        if rootfs is None or meta is None:
            return None
        return BuildOutcome(key, rootfs, meta, source, time.monotonic() - started)

    def _build(
        self, plan: BuildPlan, base_rootfs: Path | None, progress: ProgressCallback, started: float
    ) -> BuildOutcome:
        if self.builder is None:
            raise EnvironmentBuildError(f"{plan.name} is not built and this store cannot build")
        work = Path(tempfile.mkdtemp(prefix=f"{_BUILD_PREFIX}{plan.key}-", dir=self.root))
        log = BuildLog(work / BUILD_LOG, plan.name, progress)
        try:
            log.note(f"environment {plan.name} ({plan.source.origin}), key {plan.key}")
            log.note(f"builder {self.builder.name}, started {_now()}")
            self.builder.build(plan, work / ROOTFS, log, base_rootfs)
            log.step("measuring the tree")
            seconds = time.monotonic() - started
            meta = EnvironmentMeta(
                key=plan.key,
                name=plan.name,
                origin=plan.source.origin,
                builder=self.builder.name,
                size_bytes=disk_usage(work / ROOTFS),
                build_seconds=round(seconds, 2),
                created=_now(),
                last_used=_now(),
            )
            (work / SPEC_JSON).write_bytes(canonical_bytes(plan.canonical()) + b"\n")
            self._write_meta(work, meta)
            log.note(f"built in {seconds:.1f} s, {meta.size_bytes} bytes")
            log.close()
            work.chmod(0o755)
            work.rename(self.root / plan.key)
        except BaseException as exc:
            log.close()
            kept = self._keep_failed_log(work, plan.key)
            remove_tree(work)
            if isinstance(exc, EnvironmentBuildError):
                raise EnvironmentBuildError(exc.detail, log_path=kept, fix=exc.fix) from exc
            if isinstance(exc, OSError):
                raise EnvironmentBuildError(
                    f"building {plan.name} failed: {exc}", log_path=kept
                ) from exc
            raise
        return BuildOutcome(plan.key, self.root / plan.key / ROOTFS, meta, Source.BUILT, seconds)

    def _fetch(self, key: str, started: float) -> BuildOutcome | None:
        if self.remote is None:
            return None
        work = Path(tempfile.mkdtemp(prefix=f"{_BUILD_PREFIX}{key}-", dir=self.root))
        try:
            if not self.remote.fetch(key, work):
                return None
            document = json.loads((work / SPEC_JSON).read_bytes())
            if compute_key(document) != key or not (work / ROOTFS).is_dir():
                raise EnvironmentBuildError(f"the remote copy of {key} does not match its key")
            work.chmod(0o755)
            work.rename(self.root / key)
        except (OSError, ValueError) as exc:
            raise EnvironmentBuildError(f"fetching {key} failed: {exc}") from exc
        finally:
            remove_tree(work)
        return self._hit(key, started, Source.FETCHED)

    def _keep_failed_log(self, work: Path, key: str) -> str | None:
        kept = self.failed_log(key)
        try:
            kept.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(work / BUILD_LOG, kept)
        except OSError:
            return None
        return str(kept)

    def _clear_leftovers(self, key: str) -> None:
        """Remove what killed builds of ``key`` left (the caller holds its lock)."""
        for path in self.root.glob(f"{_BUILD_PREFIX}{key}-*"):
            remove_tree(path)

    # --- removal --------------------------------------------------------------------

    def remove(self, key: str, *, wait: bool = True) -> Removal:
        """Remove ``key``'s environment. A build of it, or a user (``use``), is waited
        for, or with ``wait=False`` the environment is left in place (``IN_USE``)."""
        entry = self.entry_dir(key)
        with self._locked(key, key[:12], no_progress, wait=wait) as locked:
            if not locked:
                return Removal.IN_USE
            if not entry.exists():
                return Removal.ABSENT
            trash = Path(tempfile.mkdtemp(prefix=_TRASH_PREFIX, dir=self.root))
            entry.rename(trash / key)
        remove_tree(trash)
        return Removal.REMOVED

    @contextmanager
    def use(self, key: str) -> Iterator[Path]:
        """The built tree of ``key``, which ``remove`` (and so ``gc``) leaves in place
        until the block ends: a shared lock on ``<key>.lock``, for sandboxes running in it.
        Raises ``UnknownEnvironmentError`` if it is not built."""
        self.entry_dir(key)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o755)
        with (self.root / f"{key}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            rootfs = self.lookup(key)
            if rootfs is None:
                raise UnknownEnvironmentError(f"environment {key[:12]} is not built")
            yield rootfs

    def stale(self, older_than_s: float, keep: set[str]) -> list[EnvironmentMeta]:
        """Environments unused for ``older_than_s`` whose key is not in ``keep``."""
        cutoff = datetime.now(UTC).timestamp() - older_than_s
        return [
            m for m in self.entries() if m.key not in keep and m.last_used_at.timestamp() < cutoff
        ]

    def sweep(self, failed_older_than_s: float | None = None) -> list[Path]:
        """Remove builds and removals left by killed processes (whose key is not locked),
        and failed builds' logs older than ``failed_older_than_s`` (if given)."""
        removed: list[Path] = []
        if failed_older_than_s is not None and (self.root / FAILED).is_dir():
            cutoff = time.time() - failed_older_than_s
            for log in sorted((self.root / FAILED).glob("*.log")):
                if log.stat().st_mtime < cutoff:
                    log.unlink()
                    removed.append(log)
        for path in sorted(self.root.glob(f"{_TRASH_PREFIX}*")):
            remove_tree(path)
            removed.append(path)
        for path in sorted(self.root.glob(f"{_BUILD_PREFIX}*")):
            key = path.name[len(_BUILD_PREFIX) :][:_KEY_LENGTH]
            if _is_key(key) and self._try_lock(key):
                remove_tree(path)
                removed.append(path)
        return removed

    # --- locks and files -------------------------------------------------------------

    @contextmanager
    def _locked(
        self,
        key: str,
        name: str,
        progress: ProgressCallback,
        *,
        wait: bool = True,
        built: Callable[[], bool] | None = None,
    ) -> Iterator[bool]:
        """Hold ``<key>.lock`` exclusively; yields False (not held) if busy and not ``wait``.

        With ``built``, the wait also ends (False) once ``built()`` is true: the tree is
        there. It must, because the process that built or fetched the tree goes on to
        use it, holding the lock shared (``use``), and while overlapping users keep it
        shared an exclusive request is never granted: a second worker starting beside
        the first would wait for ever for a tree it no longer needs to make.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o755)
        with (self.root / f"{key}.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                progress(BuildEvent(name, "waiting for another build of it to finish"))
                if built is None:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                elif not _lock_unless(lock, built):
                    yield False
                    return
            yield True

    def _try_lock(self, key: str) -> bool:
        """Whether no process holds ``key``'s lock now (checked, then released)."""
        path = self.root / f"{key}.lock"
        if not path.exists():
            return True
        with path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

    @staticmethod
    def _write_meta(entry: Path, meta: EnvironmentMeta) -> None:
        data: dict[str, Any] = asdict(meta)
        fd, temporary = tempfile.mkstemp(prefix=".meta-", dir=entry)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, entry / META_JSON)


def _is_key(name: str) -> bool:
    return len(name) == _KEY_LENGTH and all(c in "0123456789abcdef" for c in name)


def _mounts_under(path: Path) -> list[str]:
    prefix = os.path.realpath(path) + "/"
    points: list[str] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
            for line in mountinfo:
                point = line.split()[4].encode().decode("unicode_escape")
                if point.startswith(prefix):
                    points.append(point)
    except OSError:
        return []
    return sorted(points, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Remove a tree, first detaching any mount left inside it (never descending into one)."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if _mounts_under(path):
        raise EnvironmentBuildError(f"{path} still has mounts inside; not removed")
    shutil.rmtree(path)


LOCK_POLL_S = 0.2


def _lock_unless(lock: IO[str], done: Callable[[], bool]) -> bool:
    """Take ``lock`` exclusively (True), or give up as soon as ``done()`` (False)."""
    while not done():
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(LOCK_POLL_S)
        else:
            return True
    return False
