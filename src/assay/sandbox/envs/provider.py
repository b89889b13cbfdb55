"""The trees of environments, for the sandbox backends: found, fetched or built once.

A backend asks ``EnvironmentProvider.rootfs(plan)`` for every session it opens.
The first call for a key in a process looks in the store and, when the key is
missing, fetches it from the store's remote source (a worker fetching from the
platform) or builds it: that is the key's cold start, logged and kept
(``cold_starts``) so a worker can report it. Later calls are a dictionary
lookup. While the process uses a tree it holds the store's shared lock on its
key, so ``assay env rm`` and ``gc`` leave it in place.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from assay.errors import EnvironmentBuildError
from assay.sandbox.envs.buildlog import BuildEvent
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.store import BuildOutcome, EnvironmentStore, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColdStart:
    """A key this process did not find in its store: where it came from, how long."""

    key: str
    name: str
    source: Source  # FETCHED, BUILT, or WAITED (another process was making it)
    seconds: float
    size_bytes: int


ColdStartCallback = Callable[[ColdStart], None]


class EnvironmentProvider:
    """Root filesystems of planned environments, from one store."""

    def __init__(self, store: EnvironmentStore, *, build_missing: bool = True) -> None:
        self.store = store
        self.build_missing = build_missing
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._trees: dict[str, Path] = {}
        self._held: dict[str, IO[str]] = {}
        self.cold_starts: list[ColdStart] = []
        self._listeners: list[ColdStartCallback] = []

    def on_cold_start(self, listener: ColdStartCallback) -> None:
        """Call ``listener`` for every cold start from now on."""
        with self._lock:
            self._listeners.append(listener)

    def cached(self, plan: BuildPlan) -> Path | None:
        """The tree of ``plan`` if it is in the store now (nothing fetched or built)."""
        known = self._trees.get(plan.key)
        if known is not None and known.is_dir():
            return known
        return self.store.lookup(plan.key, touch=False)

    def rootfs(self, plan: BuildPlan) -> Path:
        """The built tree of ``plan``: from this process's cache, the store, the remote
        source or a build (raises ``EnvironmentBuildError`` when that fails)."""
        known = self._trees.get(plan.key)
        if known is not None:
            return known
        with self._lock:
            key_lock = self._key_locks.setdefault(plan.key, threading.Lock())
        with key_lock:
            known = self._trees.get(plan.key)
            if known is not None:
                return known
            outcome = self._ensure(plan)
            self._hold(plan.key)
            self._trees[plan.key] = outcome.rootfs
            if outcome.source is not Source.STORE:
                self._cold(plan, outcome)
            return outcome.rootfs

    def _ensure(self, plan: BuildPlan) -> BuildOutcome:
        stored = self.store.lookup(plan.key, touch=False) is not None
        if stored or self.build_missing:
            if not stored:
                log.info(
                    "environment %s (%s) is not on this machine: fetching or building it",
                    plan.name,
                    plan.key[:12],
                )
            return self.store.ensure(plan, self._progress(plan))
        raise EnvironmentBuildError(
            f"environment {plan.name} ({plan.key[:12]}) is not built, and this process does "
            "not build environments",
            fix=f"assay env build {plan.name}",
        )

    @staticmethod
    def _progress(plan: BuildPlan) -> Callable[[BuildEvent], None]:
        def report(event: BuildEvent) -> None:
            if not event.detail:
                log.info("environment %s: %s", event.environment, event.step)

        return report

    def _hold(self, key: str) -> None:
        """Take the store's shared lock on ``key`` for as long as this process lives."""
        if key in self._held:
            return
        try:
            handle = (self.store.root / f"{key}.lock").open("a")
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # a removal is waiting on it, or a read-only store: not held
            return
        self._held[key] = handle

    def _cold(self, plan: BuildPlan, outcome: BuildOutcome) -> None:
        cold = ColdStart(
            plan.key, plan.name, outcome.source, round(outcome.seconds, 2), outcome.meta.size_bytes
        )
        log.info(
            "environment %s (%s): cold start, %s in %.1f s (%.1f MiB)",
            cold.name,
            cold.key[:12],
            cold.source.value,
            cold.seconds,
            cold.size_bytes / 2**20,
        )
        with self._lock:
            self.cold_starts.append(cold)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(cold)

    def release(self) -> None:
        """Let go of the locks held on trees in use (at backend shutdown)."""
        with self._lock:
            held, self._held = self._held, {}
            self._trees.clear()
        for handle in held.values():
            handle.close()
