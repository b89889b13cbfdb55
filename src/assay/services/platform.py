"""The platform: the handles every service needs, made once per process.

Its settings are what the entry point read (``assay serve``, ``assay worker``, the
CLI, the web app's caller) and are handed down from here. The sandbox backend is
handed down as an object too (grading, the execution APIs, the watchdog, the
worker's sandbox check): ``backend``, made by the platform from its own settings
on first use and shut down with it, or one the caller hands in and keeps.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from assay.config import Settings
from assay.errors import UnknownBackendError
from assay.queue import JobQueue, JobQueueProtocol
from assay.sandbox.backends import make_backend
from assay.sandbox.base import SandboxBackend
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.resolve import store_from_settings
from assay.services.writebehind import WriteBehind
from assay.storage.db import Database
from assay.storage.models import PlatformSecret
from assay.storage.upsert import insert_new


@dataclass
class Platform:
    settings: Settings
    db: Database
    queue: JobQueueProtocol  # the database's (open); an InMemoryJobQueue in unit tests
    write_behind: WriteBehind = field(default_factory=WriteBehind)
    given_backend: SandboxBackend | None = None  # the caller's, not shut down on close
    _made_backend: SandboxBackend | None = field(default=None, init=False, repr=False)
    _backend_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _store_view: EnvironmentProvider | None = field(default=None, init=False, repr=False)

    @classmethod
    def open(
        cls, settings: Settings, *, migrate: bool = True, backend: SandboxBackend | None = None
    ) -> Platform:
        """Open the database (migrating it unless ``migrate`` is false) and the queue.

        ``backend``: a sandbox backend the caller owns and shares (tests hand in the
        process's one); by default the platform makes its own from ``settings``."""
        db = Database(
            settings.resolved_database_url,
            busy_timeout_s=settings.sqlite_busy_timeout_s,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        if migrate:
            db.migrate()
        queue = JobQueue(
            db, lease_s=settings.worker_lease_s, max_attempts=settings.job_max_attempts
        )
        return cls(settings=settings, db=db, queue=queue, given_backend=backend)

    @property
    def backend(self) -> SandboxBackend:
        """The sandbox backend: the one handed to ``open``, else ``settings.grading_backend``
        made from this platform's settings on first use (an unknown name raises
        ``UnknownBackendError`` then, not when the platform opens: a platform that never
        grades needs none). The made one is shut down by ``close``."""
        if self.given_backend is not None:
            return self.given_backend
        with self._backend_lock:
            if self._made_backend is None:
                self._made_backend = make_backend(self.settings.grading_backend, self.settings)
            return self._made_backend

    @property
    def environment_provider(self) -> EnvironmentProvider | None:
        """Where this process finds environments' trees: its backend's provider, or, on
        a platform whose backend setting names none it can make (an API server that
        never grades), a view of the settings' store that builds nothing."""
        try:
            return self.backend.environment_provider
        except UnknownBackendError:
            with self._backend_lock:
                if self._store_view is None:
                    store = store_from_settings(self.settings)
                    self._store_view = EnvironmentProvider(store, build_missing=False)
                return self._store_view

    def secret_key(self) -> str:
        """The configured secret, or one generated once: on PostgreSQL kept in the
        database (``platform_secrets``), so every API server of it signs and checks
        alike behind a balancer; on SQLite (one server) in the state directory."""
        if self.settings.secret_key:
            return self.settings.secret_key
        if not self.db.is_sqlite:
            with self.db.session() as session:
                values = {"name": "secret_key", "value": secrets.token_urlsafe(48)}
                insert_new(session, PlatformSecret, values, returning=PlatformSecret.name)
                stored = session.scalar(
                    select(PlatformSecret.value).where(PlatformSecret.name == "secret_key")
                )
            return str(stored)
        path = Path(self.settings.state_dir) / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def close(self) -> None:
        self.write_behind.close(self.db)
        self.db.dispose()
        with self._backend_lock:
            made, self._made_backend = self._made_backend, None
        if made is not None:
            made.shutdown()
