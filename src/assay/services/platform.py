"""The platform: the handles every service needs, made once per process.

Its settings are what the entry point read (``assay serve``, ``assay worker``, the
CLI, the web app's caller) and are handed down from here. The sandbox backend is
handed down as an object too (grading, the watchdog, the worker's sandbox check):
``backend``, the process's one instance of ``settings.grading_backend``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from assay.config import Settings
from assay.queue import JobQueue, JobQueueProtocol
from assay.sandbox.backends import get_backend
from assay.sandbox.base import SandboxBackend
from assay.services.writebehind import WriteBehind
from assay.storage.db import Database


@dataclass
class Platform:
    settings: Settings
    db: Database
    queue: JobQueueProtocol  # the database's (open); an InMemoryJobQueue in unit tests
    write_behind: WriteBehind = field(default_factory=WriteBehind)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Platform:
        db = Database(settings.resolved_database_url, busy_timeout_s=settings.sqlite_busy_timeout_s)
        if migrate:
            db.migrate()
        queue = JobQueue(
            db, lease_s=settings.worker_lease_s, max_attempts=settings.job_max_attempts
        )
        return cls(settings=settings, db=db, queue=queue)

    @property
    def backend(self) -> SandboxBackend:
        """The sandbox backend of ``settings.grading_backend`` (an unknown name raises
        ``UnknownBackendError`` here, on first use, not when the platform opens).

        One instance per process (``sandbox.backends.get_backend``), made on first use
        with the process's settings: its CPU scheduler and ready slots are the
        process's, shared with whatever else names the backend (the execution API,
        the compat layer), and the sandboxes' state directory must be one the sandbox
        user can reach (a test platform's temporary state directory is not).
        """
        return get_backend(self.settings.grading_backend)

    def secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the state directory."""
        if self.settings.secret_key:
            return self.settings.secret_key
        path = Path(self.settings.state_dir) / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def close(self) -> None:
        self.write_behind.close(self.db)
        self.db.dispose()
