"""Environments shared through the platform's database: a worker fetches what it lacks.

Packages reach workers through the database; so do built environments. A process
that builds an environment while connected to a shared database publishes the
store entry as one archive (``assay.sandbox.envs.archive``: zstd-compressed tar)
in ``environment_archives`` and ``environment_archive_chunks`` (8 MiB each), all
in one transaction: a reader sees an archive whole or not at all, and of two
processes publishing one key the second finds the first's row and stops.

A worker's store asks ``DatabaseSource`` for a key it lacks before building it:
the chunks are read one short transaction each into a file beside the store,
the whole archive's length and SHA-256 checked against its row before anything
is unpacked, then unpacked by the archive rules, and the store accepts the tree
only if its ``spec.json`` hashes to the key. Anything wrong raises
``EnvironmentBuildError`` (the run is retried) and leaves nothing in the store.

Built-in environments are published too: a worker machine then needs no Debian
mirror, and fetching is faster than building (docs/environments.md, Workers).
Whoever can write the database can publish a tree under a key: the database is
trusted as it is for packages; the unpacking rules protect the worker's host.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from assay.errors import AssayError, EnvironmentArchiveError, StorageError
from assay.grading.context import Progress
from assay.grading.stages import Stage
from assay.sandbox.environments import Environment
from assay.sandbox.envs import archive
from assay.sandbox.envs.provider import ColdStart, EnvironmentProvider
from assay.sandbox.envs.store import EnvironmentStore, Source
from assay.services.platform import Platform
from assay.storage.db import Database
from assay.storage.models import EnvironmentArchive, EnvironmentArchiveChunk
from assay.storage.upsert import insert_new

log = logging.getLogger(__name__)

ARCHIVE_CHUNK_BYTES = 8 * 2**20
_SPOOLED = ".archive.tar.zst"
_VERBS = {
    Source.FETCHED: "fetched from the platform",
    Source.BUILT: "built on this worker",
    Source.WAITED: "built by another process on this worker",
}


@dataclass(frozen=True)
class ArchiveInfo:
    key: str
    name: str
    sha256: str
    size_bytes: int
    tree_bytes: int
    chunks: int


def published(db: Database, key: str) -> ArchiveInfo | None:
    """The archive of ``key`` in the database, or None."""
    with db.reading() as session:
        row = session.get(EnvironmentArchive, key)
        if row is None:
            return None
        return ArchiveInfo(
            row.key, row.name, row.sha256, row.size_bytes, row.tree_bytes, row.chunks
        )


def publish(db: Database, store: EnvironmentStore, key: str) -> ArchiveInfo | None:
    """Publish ``key``'s store entry; None when the database has it already.

    Packing happens outside any transaction (into a temporary file in the store's
    directory, the tree held in use meanwhile); the row and its chunks are then
    written in one transaction."""
    if published(db, key) is not None:
        return None
    meta = store.meta(key)
    with store.use(key), tempfile.TemporaryFile(dir=store.root, prefix=".publish-") as spooled:
        packed = archive.pack(store.entry_dir(key), spooled)
        chunks = -(-packed.size_bytes // ARCHIVE_CHUNK_BYTES)
        info = ArchiveInfo(
            key,
            meta.name if meta else "",
            packed.sha256,
            packed.size_bytes,
            meta.size_bytes if meta else 0,
            chunks,
        )
        spooled.seek(0)
        with db.session() as session:
            row = {**asdict(info), "published_by": socket.gethostname()[:255]}
            inserted = insert_new(
                session, EnvironmentArchive, row, key=["key"], returning=EnvironmentArchive.key
            )
            if inserted is None:
                return None  # published by another process meanwhile
            for seq in range(chunks):
                data = spooled.read(ARCHIVE_CHUNK_BYTES)
                session.execute(insert(EnvironmentArchiveChunk).values(key=key, seq=seq, data=data))
    return info


@dataclass(frozen=True)
class ArchiveSummary:
    """What ``/metrics`` shows of the published environments."""

    archives: int
    size_bytes: int
    fetches: dict[str, int]  # by environment name


def summary(session: Session) -> ArchiveSummary:
    count, size = session.execute(
        select(func.count(EnvironmentArchive.key), func.sum(EnvironmentArchive.size_bytes))
    ).one()
    fetches: dict[str, int] = {}
    for name, fetched in session.execute(
        select(EnvironmentArchive.name, EnvironmentArchive.fetches)
    ):
        fetches[name] = fetches.get(name, 0) + fetched
    return ArchiveSummary(int(count), int(size or 0), fetches)


class DatabaseSource:
    """A store's ``RemoteSource``: the archives in the platform's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetch(self, key: str, destination: Path) -> bool:
        try:
            info = published(self.db, key)
        except StorageError as exc:  # not migrated yet, or unreachable: built instead
            log.warning("cannot ask the database for environment %s: %s", key[:12], exc)
            return False
        if info is None:
            return False
        started = time.monotonic()
        spooled = destination / _SPOOLED
        archive.spool(self._chunks(info), spooled, info.sha256, info.size_bytes)
        archive.unpack(spooled, destination)
        spooled.unlink()
        self._count_fetch(key)
        log.info(
            "environment %s (%s): fetched a %.1f MiB archive and unpacked it in %.1f s",
            info.name,
            key[:12],
            info.size_bytes / 2**20,
            time.monotonic() - started,
        )
        return True

    def _count_fetch(self, key: str) -> None:
        """Count the cold start (``/metrics``); a count lost to a database error is only
        a count."""
        try:
            with self.db.session() as session:
                session.execute(
                    update(EnvironmentArchive)
                    .where(EnvironmentArchive.key == key)
                    .values(fetches=EnvironmentArchive.fetches + 1)
                )
        except StorageError as exc:
            log.warning("cannot count the fetch of environment %s: %s", key[:12], exc)

    def _chunks(self, info: ArchiveInfo) -> Iterator[bytes]:
        for seq in range(info.chunks):
            with self.db.reading() as session:
                data = session.scalar(
                    select(EnvironmentArchiveChunk.data).where(
                        EnvironmentArchiveChunk.key == info.key, EnvironmentArchiveChunk.seq == seq
                    )
                )
            if data is None:
                raise EnvironmentArchiveError(
                    f"the archive of environment {info.key[:12]} lacks its chunk {seq}"
                )
            yield data


class EnvironmentSharing:
    """Links a worker's environments to the database: missing keys are fetched from
    it, and what this process builds is published to it (on a thread of its own, so
    the run that needed the tree does not wait for the upload)."""

    def __init__(self, db: Database, provider: EnvironmentProvider) -> None:
        self.db = db
        self.provider = provider
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="assay-env-publish")
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.source = DatabaseSource(db)

    @classmethod
    def install(
        cls, db: Database, provider: EnvironmentProvider | None
    ) -> EnvironmentSharing | None:
        """Share a backend's environments (its ``environment_provider``) through ``db``."""
        if provider is None or isinstance(provider.store.remote, DatabaseSource):
            return None  # no trees, or shared already (another pool on this backend)
        sharing = cls(db, provider)
        provider.store.remote = sharing.source
        provider.on_cold_start(sharing._on_cold_start)
        return sharing

    def _on_cold_start(self, cold: ColdStart) -> None:
        if cold.source is Source.BUILT and not self._closed:
            with self._lock:
                self._pending.append(self._publisher.submit(self._publish, cold))

    def _publish(self, cold: ColdStart) -> None:
        started = time.monotonic()
        try:
            info = publish(self.db, self.provider.store, cold.key)
        except (AssayError, OSError) as exc:
            log.warning("environment %s (%s): not published: %s", cold.name, cold.key[:12], exc)
            return
        if info is not None:
            log.info(
                "environment %s (%s): published, a %.1f MiB archive in %.1f s",
                cold.name,
                cold.key[:12],
                info.size_bytes / 2**20,
                time.monotonic() - started,
            )

    def close(self, timeout_s: float | None = None) -> None:
        """Stop sharing (a later pool on the same backend may share through another
        database) and wait up to ``timeout_s`` for publications under way (an
        unfinished one is rolled back with its transaction: nothing half made)."""
        with self._lock:
            self._closed = True
            pending = list(self._pending)
        if self.provider.store.remote is self.source:
            self.provider.store.remote = None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for future in pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(left)
            except TimeoutError:
                break
        self._publisher.shutdown(wait=False, cancel_futures=True)


def share_environments(platform: Platform) -> EnvironmentSharing | None:
    """Share the platform's backend's environments through its database, unless that is
    SQLite (one machine: its processes share one store) or the backend has no trees."""
    if platform.db.is_sqlite:
        return None
    return EnvironmentSharing.install(platform.db, platform.backend.environment_provider)


def prepare(
    provider: EnvironmentProvider | None, environment: Environment, progress: Progress
) -> ColdStart | None:
    """Make sure ``environment``'s tree is on this machine (``provider``: the backend's)
    before a run grades in it, and say so in the run's progress when it was not (its
    cold start, returned)."""
    if provider is None or provider.cached(environment.plan) is not None:
        return None
    progress.stage(Stage.SETUP, f"environment {environment.name} is not on this worker yet")
    before = len(provider.cold_starts)
    provider.rootfs(environment.plan)
    for cold in provider.cold_starts[before:]:
        if cold.key == environment.key:
            progress.stage(Stage.SETUP, describe(cold))
            return cold
    return None


def describe(cold: ColdStart) -> str:
    """``environment c fetched from the platform in 7.9 s (182.9 MiB)``."""
    verb = _VERBS.get(cold.source, cold.source.value)
    return (
        f"environment {cold.name} {verb} in {cold.seconds:.1f} s "
        f"({cold.size_bytes / 2**20:.1f} MiB)"
    )
