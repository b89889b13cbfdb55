"""The Docker backend's images: each environment's built tree, imported as it is.

An environment's image (``Environment.docker_image``, ``assay-env:<key[:24]>``) is
its tree from the environment store (``<store>/<key>/rootfs``, the same tree the
native backend binds as ``/``) in one layer: ``tar`` of the tree (numeric owners,
modes, mtimes, symlinks, hard links) streamed into ``docker import``, nothing
added and nothing pulled. The image carries the environment's name
(``LABEL_IMAGE``), its key (``LABEL_KEY``) and the tree's build time
(``LABEL_TREE``, for information: an image is never replaced because a store's
tree of its key is younger; ``ensure(force=True)`` imports again).

``EnvironmentImages.ensure`` runs when a session opens: the first call for an
environment in a process looks at the daemon (and imports, getting the tree
from the ``EnvironmentProvider``: the store, else fetched or built); later
calls are a set lookup. Imports of one key are serialized across threads and,
by ``flock`` on ``<store>/<key>.image.lock``, across processes.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import ImageBuildError, SandboxError, UnknownEnvironmentError
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.constants import LABEL_IMAGE, LABEL_KEY, LABEL_TREE
from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageOutcome:
    """What ``ensure`` found or did for one environment."""

    image: str
    imported: bool  # False: the daemon had it already
    seconds: float = 0.0
    size_bytes: int = 0


@dataclass(frozen=True)
class ImageStatus:
    """One environment's image in the daemon, for ``assay image list``."""

    environment: str
    image: str
    key: str
    present: bool
    image_id: str = ""
    size_bytes: int = 0
    created: str = ""


def image_labels(environment: Environment, tree_created: str) -> dict[str, str]:
    return {LABEL_IMAGE: environment.name, LABEL_KEY: environment.key, LABEL_TREE: tree_created}


def tar_command(rootfs: Path) -> list[str]:
    """A tar of the tree on stdout: the tree as it is (ids numeric, never remapped)."""
    return ["tar", "--create", "--file=-", "--numeric-owner", "--sort=name", "-C", str(rootfs), "."]


class EnvironmentImages:
    """The images of environments in one daemon, imported from their trees on first use."""

    def __init__(self, api: DockerAPI, provider: EnvironmentProvider) -> None:
        self.api = api
        self.provider = provider
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._present: set[str] = set()

    def ensure(self, environment: Environment, *, force: bool = False) -> ImageOutcome:
        """The image of ``environment`` in the daemon, imported first when it is missing
        (``force``: imported again even if present)."""
        image = environment.docker_image
        if image in self._present and not force:
            return ImageOutcome(image, imported=False)
        with self._lock:
            key_lock = self._key_locks.setdefault(environment.key, threading.Lock())
        with key_lock:
            if image in self._present and not force:
                return ImageOutcome(image, imported=False)
            if not force and self._current(environment):
                self._present.add(image)
                return ImageOutcome(image, imported=False)
            rootfs = self.provider.rootfs(environment.plan)
            with self._import_lock(environment.key):
                if not force and self._current(environment):  # another process imported it
                    self._present.add(image)
                    return ImageOutcome(image, imported=False)
                outcome = self._import(environment, rootfs)
            self._present.add(image)
            return outcome

    def forget(self, environment: Environment) -> None:
        """Look at the daemon again at the next ``ensure`` (the image was removed)."""
        self._present.discard(environment.docker_image)

    def _current(self, environment: Environment) -> bool:
        """Whether the daemon has the image. Any tree of the key will do: the key names
        the spec, so trees of one key in two stores (a test's, a fetched copy) are the
        same environment, and re-importing on every difference would make processes
        on two stores replace each other's image while the other starts containers."""
        if self.api.image_info(environment.docker_image) is None:
            return False
        self.provider.store.lookup(environment.key)  # its use recorded, for `assay env gc`
        return True

    @contextmanager
    def _import_lock(self, key: str) -> Iterator[None]:
        path = self.provider.store.root / f"{key}.image.lock"
        try:
            handle = path.open("a")
        except OSError as exc:  # a read-only store: this process's own lock is all there is
            logger.debug("no import lock at %s: %s", path, exc)
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _import(self, environment: Environment, rootfs: Path) -> ImageOutcome:
        image = environment.docker_image
        meta = self.provider.store.meta(environment.key)
        created = meta.created if meta is not None else ""
        labels = image_labels(environment, created)
        changes = [f'LABEL {k}="{v}"' for k, v in sorted(labels.items())]
        changes.append('CMD ["/bin/sh"]')
        previous = self.api.image_info(image)
        started = time.monotonic()
        logger.info("importing %s (%s) as %s", environment.name, environment.key[:12], image)
        # tar's messages go to a file: a pipe nobody reads until the end could fill
        # and stop tar while the daemon waits for the rest of the tree.
        with tempfile.TemporaryFile() as messages:
            tar = subprocess.Popen(
                tar_command(rootfs),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=messages,
            )
            if tar.stdout is None:
                raise ImageBuildError("tar has no output pipe")
            with tar:
                try:
                    self.api.import_image(tar.stdout, image, changes)
                finally:
                    tar.stdout.close()
            messages.seek(0)
            error = messages.read(4096).decode(errors="replace").strip()
        if tar.returncode != 0:
            raise ImageBuildError(f"tar of {rootfs} failed (status {tar.returncode}): {error}")
        info = self.api.image_info(image)
        if info is None:
            raise ImageBuildError(f"docker import of {rootfs} left no image {image}")
        seconds = time.monotonic() - started
        size = int(info.get("Size") or 0)
        logger.info("imported %s in %.1f s (%.1f MiB)", image, seconds, size / 2**20)
        if previous is not None and previous.get("Id") != info.get("Id"):
            self._remove_untagged(str(previous.get("Id")))
        return ImageOutcome(image, imported=True, seconds=seconds, size_bytes=size)

    def _remove_untagged(self, image_id: str) -> None:
        """Drop an image the import replaced, unless a tag or a container still uses it."""
        try:
            info = self.api.image_info(image_id)
            if info is not None and not info.get("RepoTags"):
                self.api.remove_image(image_id)
        except SandboxError as exc:
            logger.info("kept the replaced image %s: %s", image_id[:19], exc)

    def status(self, environment: Environment) -> ImageStatus:
        info = self.api.image_info(environment.docker_image)
        if info is None:
            return ImageStatus(environment.name, environment.docker_image, environment.key, False)
        return ImageStatus(
            environment.name,
            environment.docker_image,
            environment.key,
            True,
            str(info.get("Id", "")).removeprefix("sha256:")[:12],
            int(info.get("Size") or 0),
            str(info.get("Created", "")),
        )

    def stale(self, keep: set[str]) -> list[tuple[str, str]]:
        """Assay's images no tree backs any more, as (tag or id, why): those of the old
        debootstrap builder (no key label), those whose key is neither in the store nor
        in ``keep``, and those a later import replaced (untagged)."""
        found: list[tuple[str, str]] = []
        for info in self.api.images_labelled(LABEL_IMAGE):
            labels = _labels(info)
            key = labels.get(LABEL_KEY)
            tags = [str(t) for t in info.get("RepoTags") or [] if not str(t).startswith("<none>")]
            if key is None:
                why = "made by the old debootstrap builder"
            elif key not in keep and not self._stored(key):
                why = f"its tree {key[:12]} is not in the store"
            elif not tags:
                why = "replaced by a later import of its environment"
            else:
                continue
            found += [(tag, why) for tag in tags] or [(str(info.get("Id", "")), why)]
        return found

    def _stored(self, key: str) -> bool:
        try:
            return self.provider.store.meta(key) is not None
        except UnknownEnvironmentError:  # not a key at all
            return False


def _labels(info: dict[str, Any]) -> dict[str, str]:
    config = info.get("Config") or {}
    labels = config.get("Labels") if isinstance(config, dict) else None
    if labels is None:
        labels = info.get("Labels") or {}
    return {str(k): str(v) for k, v in dict(labels).items()}
