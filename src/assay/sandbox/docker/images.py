"""Building the sandbox images locally (``assay image build``).

Nothing is pulled from a registry: each image is a Debian tree made with
``debootstrap`` on this host and imported with ``docker import``. Trees are
cached under ``cache_dir`` so a rebuild (``--force``) takes seconds; a tree
whose recipe changed is rebuilt.

Images (names from ``Environment.docker_image``):

- ``assay-python3:1``: minbase + python3, procps, util-linux, coreutils
- ``assay-c:1`` and ``assay-cpp:1``: one tree, the base + gcc, g++, make, valgrind
- ``assay-java:1``: the base + OpenJDK 17

Each has the user ``student`` (uid/gid 1000) and an empty ``/work`` (root's, mode 1777).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests

from assay.errors import ImageBuildError, SandboxUnavailableError
from assay.sandbox.docker import rootfs
from assay.sandbox.docker.constants import DEFAULT_CACHE_DIR, LABEL_IMAGE, SANDBOX_UID
from assay.sandbox.environments import ENVIRONMENTS, Environment, get_environment
from assay.sandbox.envs import aptsources

logger = logging.getLogger(__name__)

RECIPE_VERSION = 2
_BASE_KEY = "base"
_SHARED_TREES = {"c": "toolchain", "cpp": "toolchain"}


@dataclass(frozen=True)
class BuildEvent:
    """Progress of ``build_images``: a step started, or a line of a command's output."""

    image: str
    step: str
    detail: str = ""


ProgressCallback = Callable[[BuildEvent], None]


@dataclass(frozen=True)
class ImageStatus:
    environment: str
    image: str
    present: bool
    image_id: str = ""
    size_bytes: int = 0
    created: str = ""


@dataclass(frozen=True)
class TreeRecipe:
    """One cached root filesystem: the base plus ``packages``."""

    key: str
    packages: tuple[str, ...]

    def digest(self) -> str:
        text = json.dumps(
            [RECIPE_VERSION, SANDBOX_UID, rootfs.BASE_PACKAGES, sorted(self.packages)]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def tree_recipe(environment: Environment) -> TreeRecipe:
    """The tree an environment's image is made from (shared between c and cpp)."""
    key = _SHARED_TREES.get(environment.name, environment.name)
    if key == _BASE_KEY:
        return TreeRecipe(_BASE_KEY, ())
    members = [e for e in ENVIRONMENTS.values() if _SHARED_TREES.get(e.name, e.name) == key]
    packages = sorted(
        {p for e in members or [environment] for p in e.debian_packages} - set(rootfs.BASE_PACKAGES)
    )
    return TreeRecipe(key, tuple(packages))


def _client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=900)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise SandboxUnavailableError(
            f"the Docker daemon is not reachable: {exc}",
            fix="start dockerd (see docs/docker.md) and check DOCKER_HOST",
        ) from exc
    return client


def image_status(names: Iterable[str] | None = None) -> list[ImageStatus]:
    """Which environment images exist in the local daemon."""
    client = _client()
    rows: list[ImageStatus] = []
    try:
        for name in names or sorted(ENVIRONMENTS):
            env = get_environment(name)
            try:
                image = client.images.get(env.docker_image)
            except docker.errors.ImageNotFound:
                rows.append(ImageStatus(env.name, env.docker_image, present=False))
                continue
            attrs = image.attrs
            rows.append(
                ImageStatus(
                    env.name,
                    env.docker_image,
                    True,
                    image.short_id,
                    int(attrs.get("Size", 0)),
                    str(attrs.get("Created", "")),
                )
            )
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise SandboxUnavailableError(f"cannot list images: {exc}") from exc
    finally:
        client.close()
    return rows


@contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImageBuildError(f"another image build holds {cache_dir}/.lock") from None
        yield


class _Builder:
    def __init__(
        self,
        client: docker.DockerClient,
        cache_dir: Path,
        progress: ProgressCallback,
        fresh: bool,
        mirror: str | None,
    ) -> None:
        self.client = client
        self.cache_dir = cache_dir
        self.progress = progress
        self.fresh = fresh
        self.sources = aptsources.host_apt_sources()
        self.mirror = mirror or aptsources.main_mirror(self.sources)
        self.refreshed: set[str] = set()
        self.imported: dict[str, str] = {}  # tree key -> image name

    def _on_line(self, image: str, step: str) -> rootfs.LineCallback:
        return lambda line: self.progress(BuildEvent(image, step, line))

    def _cached(self, recipe: TreeRecipe) -> Path | None:
        tree = self.cache_dir / recipe.key
        stamp = self.cache_dir / f"{recipe.key}.recipe"
        if self.fresh and recipe.key not in self.refreshed:
            return None
        try:
            ok = stamp.read_text(encoding="utf-8").strip() == recipe.digest()
        except OSError:
            ok = False
        return tree if ok and tree.is_dir() else None

    def tree(self, recipe: TreeRecipe, image: str) -> Path:
        """The cached tree for ``recipe``, built first if needed."""
        cached = self._cached(recipe)
        if cached is not None:
            return cached
        if os.geteuid() != 0:
            raise ImageBuildError("building images needs root (debootstrap and chroot)")
        work = rootfs.new_work_dir(self.cache_dir, recipe.key)
        try:
            if recipe.key == _BASE_KEY:
                step = f"debootstrap {rootfs.SUITE} from {self.mirror}"
                self.progress(BuildEvent(image, step))
                rootfs.debootstrap(
                    work, self.mirror, self.cache_dir / "debs", self._on_line(image, step)
                )
            else:
                base = self.tree(TreeRecipe(_BASE_KEY, ()), image)
                self.progress(BuildEvent(image, "copying the base tree"))
                rootfs.copy_tree(base, work, self._on_line(image, "copy"))
                step = f"apt-get install {' '.join(recipe.packages)}"
                self.progress(BuildEvent(image, step))
                rootfs.install_packages(
                    work, recipe.packages, self.sources, self._on_line(image, step)
                )
            self.progress(BuildEvent(image, "cleaning the tree"))
            rootfs.finish(work, self._on_line(image, "clean"))
            final = self.cache_dir / recipe.key
            rootfs.remove_tree(final)
            work.rename(final)
            (self.cache_dir / f"{recipe.key}.recipe").write_text(
                recipe.digest() + "\n", encoding="utf-8"
            )
            self.refreshed.add(recipe.key)
            return final
        finally:
            rootfs.remove_tree(work)

    def image(self, env: Environment) -> None:
        recipe = tree_recipe(env)
        repository, _, tag = env.docker_image.rpartition(":")
        previous = _image_id(self.client, env.docker_image)
        done = self.imported.get(recipe.key)
        if done is not None:
            self.progress(BuildEvent(env.docker_image, f"tagging {done}"))
            self.client.images.get(done).tag(repository, tag)
        else:
            tree = self.tree(recipe, env.docker_image)
            self.progress(BuildEvent(env.docker_image, "docker import"))
            self._import(tree, repository, tag, env)
            self.imported[recipe.key] = env.docker_image
        if previous is not None and previous != _image_id(self.client, env.docker_image):
            self._remove_if_unused(previous)

    def _remove_if_unused(self, image_id: str) -> None:
        """Drop a replaced image unless another tag or a container still uses it."""
        try:
            if not self.client.images.get(image_id).tags:
                self.client.images.remove(image_id)
        except docker.errors.APIError as exc:
            logger.info("kept the replaced image %s: %s", image_id, exc)

    def _import(self, tree: Path, repository: str, tag: str, env: Environment) -> None:
        sharing = sorted(
            n for n, e in ENVIRONMENTS.items() if tree_recipe(e).key == tree_recipe(env).key
        )
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(tree), "-c", "."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if tar.stdout is None or tar.stderr is None:
            raise ImageBuildError("tar has no output pipe")
        with tar:
            try:
                self.client.api.import_image(
                    src=tar.stdout,
                    repository=repository,
                    tag=tag,
                    stream_src=True,
                    changes=[f"LABEL {LABEL_IMAGE}={','.join(sharing)}", 'CMD ["/bin/sh"]'],
                )
            finally:
                tar.stdout.close()
                error = tar.stderr.read().decode(errors="replace")
        if tar.returncode != 0:
            raise ImageBuildError(f"tar of {tree} failed ({tar.returncode}): {error}")


def build_images(
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
    fresh: bool = False,
    progress: ProgressCallback | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    mirror: str | None = None,
) -> list[ImageStatus]:
    """Build the images of ``names`` (default: every environment); return their status.

    Existing images are kept unless ``force``; ``fresh`` also rebuilds the
    cached trees (debootstrap again). Needs root (debootstrap, chroot).
    """
    envs = [get_environment(n) for n in (names or sorted(ENVIRONMENTS))]
    report = progress or (lambda event: None)
    client = _client()
    try:
        with _locked(cache_dir):
            builder = _Builder(client, cache_dir, report, fresh, mirror)
            for env in envs:
                if not force and _exists(client, env.docker_image):
                    report(BuildEvent(env.docker_image, "present, skipped (use --force)"))
                    continue
                builder.image(env)
                report(BuildEvent(env.docker_image, "done"))
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise ImageBuildError(f"the Docker daemon failed: {exc}") from exc
    finally:
        client.close()
    return image_status([e.name for e in envs])


def _image_id(client: docker.DockerClient, image: str) -> str | None:
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        return None


def _exists(client: docker.DockerClient, image: str) -> bool:
    return _image_id(client, image) is not None
