"""``DockerBackend``: sandboxes as Docker containers of the environments' images.

Needs a Docker daemon on this host (the containers' cgroups are read from
/sys/fs/cgroup). A session's image is its environment's tree, imported on first
use (``images.EnvironmentImages``; the tree from the environment store, built or
fetched when missing). See docs/docker.md.

A forked child connects anew: the parent's connections, pool threads and
containers are not the child's (``assay.sandbox.forks``).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from assay.config import Settings, get_settings
from assay.errors import SandboxError, SandboxUnavailableError
from assay.sandbox import forks
from assay.sandbox.base import CheckItem, SandboxBackend, SessionConfig
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.checks import docker_checks
from assay.sandbox.docker.constants import LABEL, LABEL_OWNER
from assay.sandbox.docker.container import ContainerSpec
from assay.sandbox.docker.images import EnvironmentImages
from assay.sandbox.docker.pool import ContainerPool
from assay.sandbox.docker.session import DockerSession
from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.resolve import store_from_settings
from assay.sandbox.owner import SandboxOwner, this_process

logger = logging.getLogger(__name__)

STOPPED_GRACE_S = 300  # a live owner may be between creating and starting a container


class DockerBackend(SandboxBackend):
    name = "docker"

    @classmethod
    def from_settings(cls, settings: Settings) -> DockerBackend:
        return cls(settings.docker_url, settings.docker_pool_size, settings=settings)

    def __init__(
        self,
        docker_host: str | None = None,
        pool_size: int = 2,
        *,
        settings: Settings | None = None,
        provider: EnvironmentProvider | None = None,
        build_environments: bool = True,
    ) -> None:
        """``docker_host`` None: DOCKER_HOST or the local socket (Docker's own rule).

        Environments' trees come from ``provider``, else from the store ``settings``
        (default: ``get_settings()``) name; ``build_environments`` False: a tree
        missing from the store is an error rather than a build."""
        self.docker_host = docker_host
        self.pool_size = pool_size
        self._settings = settings
        self._provider = provider
        self.build_environments = build_environments
        self._lock = threading.Lock()
        self._api: DockerAPI | None = None
        self._pool: ContainerPool | None = None
        self._images: EnvironmentImages | None = None
        forks.register(self)

    def after_fork_in_child(self) -> None:
        """Forget the parent's connection and pool (never closed from here). The
        provider stays, as the native backend's does: a worker's environment sharing
        (its store's remote source) is set on it."""
        self._lock = threading.Lock()
        self._api = self._pool = self._images = None

    @property
    def provider(self) -> EnvironmentProvider:
        """Where environments' trees come from (made once, on first use)."""
        with self._lock:
            if self._provider is None:
                store = store_from_settings(self._settings or get_settings())
                self._provider = EnvironmentProvider(store, build_missing=self.build_environments)
            return self._provider

    @property
    def environment_provider(self) -> EnvironmentProvider:
        return self.provider

    def _connect(self) -> tuple[DockerAPI, ContainerPool]:
        provider = self.provider
        with self._lock:
            if self._api is None or self._pool is None or self._images is None:
                api = DockerAPI(self.docker_host)
                self._api, self._pool = api, ContainerPool(api, self.pool_size)
                self._images = EnvironmentImages(api, provider)
                atexit.register(self.shutdown)
                self._remove_orphans(api)
            return self._api, self._pool

    def api(self) -> DockerAPI:
        return self._connect()[0]

    def images(self) -> EnvironmentImages:
        """The environments' images in this backend's daemon."""
        self._connect()
        images = self._images
        if images is None:  # shut down meanwhile
            raise SandboxError("the Docker backend was shut down")
        return images

    def open_session(self, config: SessionConfig) -> DockerSession:
        _, pool = self._connect()
        images = self.images()
        images.ensure(config.environment)
        spec = ContainerSpec.for_session(config)
        try:
            container = pool.acquire(spec)
        except SandboxUnavailableError:
            # The image may have been removed since this process saw it: look again once.
            images.forget(config.environment)
            images.ensure(config.environment)
            container = pool.acquire(spec)
        return DockerSession(pool, config, container)

    def check(self, environment: Environment | None = None) -> list[CheckItem]:
        return docker_checks(self, self.api, self.images, environment)

    def remove_leftovers(self, owner: SandboxOwner) -> list[str]:
        """Remove the containers ``owner`` started on this daemon, from any host: the
        owner label (with its token) names one process, never a live one that
        happens to share its host name and pid."""
        if owner == this_process():
            return []
        return self._remove_owned_by(owner)

    def kill_own(self) -> list[str]:
        """Remove (killing) every container this process labelled as its own, the
        pre-started ones too."""
        return self._remove_owned_by(this_process())

    def _remove_owned_by(self, owner: SandboxOwner) -> list[str]:
        api = self.api()
        removed = []
        for container in api.list_labelled(f"{LABEL}=1", f"{LABEL_OWNER}={owner}"):
            api.remove(str(container["Id"]))
            removed.append(f"container {str(container['Id'])[:12]}")
        return removed

    def cleanup_stale(self, *, all_owners: bool = False) -> list[str]:
        """Remove leftover sandbox containers; their short ids.

        By default only those whose owning process on this host has died, or
        that stopped running minutes ago; with ``all_owners`` every labelled
        container, including other workers' live sandboxes.
        """
        return self._remove_stale(self.api(), all_owners=all_owners)

    def _remove_orphans(self, api: DockerAPI) -> None:
        try:
            removed = self._remove_stale(api, all_owners=False)
        except SandboxError as exc:
            logger.warning("could not look for stale sandbox containers: %s", exc)
            return
        if removed:
            logger.info("removed %d stale sandbox containers", len(removed))

    @staticmethod
    def _remove_stale(api: DockerAPI, *, all_owners: bool) -> list[str]:
        removed: list[str] = []
        for container in api.list_labelled(f"{LABEL}=1"):
            labels = container.get("Labels") or {}
            age_s = time.time() - float(container.get("Created") or 0)
            stopped = container.get("State") != "running" and age_s > STOPPED_GRACE_S
            if all_owners or stopped or _owner_is_gone(str(labels.get(LABEL_OWNER, ""))):
                api.remove(str(container["Id"]))
                removed.append(str(container["Id"])[:12])
        return removed

    def shutdown(self) -> None:
        """Remove pre-started containers and wait for pending removals."""
        with self._lock:
            pool, api = self._pool, self._api
            self._pool = self._api = self._images = None
        if pool is not None:
            pool.close()
        if api is not None:
            api.close()


def _owner_is_gone(label: str) -> bool:
    owner = SandboxOwner.parse(label)
    if owner is None or not owner.on_this_host:
        return False  # another host's, or unknown: not ours to judge
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
