"""Environments' trees imported as images, against a recording daemon (no Docker, no root).

The real ``docker import`` of real trees: tests/integration/test_docker_backend.py.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

import assay.cli.image as image_cli
from assay.errors import EnvironmentBuildError
from assay.sandbox.docker.api import DockerAPI
from assay.sandbox.docker.constants import LABEL_IMAGE, LABEL_KEY, LABEL_TREE
from assay.sandbox.docker.images import EnvironmentImages
from assay.sandbox.environments import Environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.store import EnvironmentStore
from env_helpers import builds, plan_named, scripted_store

runner = CliRunner()


class RecordingDaemon:
    """The part of ``DockerAPI`` that images use: imports kept as tar members."""

    def __init__(self, import_delay_s: float = 0.0) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.imports: list[tuple[str, list[tarfile.TarInfo], list[str]]] = []
        self.inspections = 0
        self.removed: list[str] = []
        self.import_delay_s = import_delay_s

    def image_info(self, image: str) -> dict[str, Any] | None:
        self.inspections += 1
        return self.images.get(image)

    def import_image(self, tar_stream: IO[bytes], image: str, changes: list[str]) -> str:
        data = tar_stream.read()
        time.sleep(self.import_delay_s)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
        labels = {}
        for change in changes:
            if change.startswith("LABEL "):
                key, _, value = change.removeprefix("LABEL ").partition("=")
                labels[key] = value.strip('"')
        image_id = f"sha256:{len(self.imports):064x}"
        self.images[image] = {
            "Id": image_id,
            "Size": len(data),
            "RepoTags": [image],
            "Config": {"Labels": labels},
        }
        self.imports.append((image, members, changes))
        return image_id

    def images_labelled(self, label: str) -> list[dict[str, Any]]:
        return [
            {"Id": i["Id"], "RepoTags": i["RepoTags"], "Labels": i["Config"]["Labels"]}
            for i in self.images.values()
            if label in i["Config"]["Labels"]
        ]

    def remove_image(self, image: str) -> None:
        self.removed.append(image)

    def close(self) -> None:
        pass


_providers: list[EnvironmentProvider] = []


@pytest.fixture(autouse=True)
def _release_providers() -> Iterator[None]:
    """Providers hold their trees' locks until released (a backend's until it ends)."""
    yield
    while _providers:
        _providers.pop().release()


def _images(
    store: EnvironmentStore, daemon: RecordingDaemon, *, build_missing: bool = True
) -> EnvironmentImages:
    provider = EnvironmentProvider(store, build_missing=build_missing)
    _providers.append(provider)
    return EnvironmentImages(daemon, provider)  # type: ignore[arg-type]  # DockerAPI's part


def _environment(name: str = "tools") -> Environment:
    return Environment(plan_named(name, "jq"))


def test_the_image_is_the_tree_with_owners_modes_and_links(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    env = _environment()
    rootfs = store.ensure(env.plan).rootfs
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "tool").write_text("#!/bin/sh\n")
    (rootfs / "bin" / "tool").chmod(0o755)
    os.link(rootfs / "bin" / "tool", rootfs / "bin" / "tool2")
    (rootfs / "lib").symlink_to("bin")
    outcome = _images(store, daemon).ensure(env)
    assert outcome.imported and outcome.image == env.docker_image
    image, members, changes = daemon.imports[0]
    assert image == env.docker_image
    by_name = {m.name.removeprefix("./"): m for m in members}
    assert by_name["bin/tool"].mode == 0o755
    assert by_name["bin/tool"].uid == os.getuid()
    assert by_name["bin/tool2"].islnk() and by_name["bin/tool2"].linkname.endswith("bin/tool")
    assert by_name["lib"].issym() and by_name["lib"].linkname == "bin"
    assert by_name["marker"].size == len(env.key)
    labels = daemon.images[image]["Config"]["Labels"]
    meta = store.meta(env.key)
    assert meta is not None
    assert labels == {LABEL_IMAGE: "tools", LABEL_KEY: env.key, LABEL_TREE: meta.created}
    assert 'CMD ["/bin/sh"]' in changes


def test_after_the_first_session_the_image_is_not_looked_up_again(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    images, env = _images(store, daemon), _environment()
    images.ensure(env)
    seen = daemon.inspections
    for _ in range(5):
        assert not images.ensure(env).imported
    assert daemon.inspections == seen
    assert len(daemon.imports) == 1
    images.forget(env)  # removed behind the backend's back: looked at again
    assert not images.ensure(env).imported
    assert daemon.inspections == seen + 1


def test_threads_import_a_key_once(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon(import_delay_s=0.2)
    images, env = _images(store, daemon), _environment()
    threads = [threading.Thread(target=images.ensure, args=(env,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(daemon.imports) == 1
    assert builds(tmp_path) == ["tools"]
    assert (store.root / f"{env.key}.image.lock").exists()


def test_an_image_made_by_another_process_is_used(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    env = _environment()
    _images(store, daemon).ensure(env)
    assert not _images(store, daemon).ensure(env).imported  # a second process
    assert len(daemon.imports) == 1


def test_an_image_of_another_tree_of_the_key_is_kept(tmp_path: Path) -> None:
    """Trees of one key in two stores are one environment: no ping-pong of imports."""
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    env = _environment()
    _images(store, daemon).ensure(env)
    daemon.images[env.docker_image]["Config"]["Labels"][LABEL_TREE] = "2000-01-01T00:00:00+00:00"
    assert not _images(store, daemon).ensure(env).imported
    assert len(daemon.imports) == 1


def test_force_imports_again_and_drops_the_replaced_image(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    images, env = _images(store, daemon), _environment()
    images.ensure(env)
    old_id = daemon.images[env.docker_image]["Id"]
    daemon.images[old_id] = {**daemon.images[env.docker_image], "RepoTags": []}
    assert images.ensure(env, force=True).imported
    assert len(daemon.imports) == 2
    assert daemon.removed == [old_id]


def test_a_tree_not_built_is_an_error_when_builds_are_off(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    env = _environment()
    with pytest.raises(EnvironmentBuildError) as caught:
        _images(store, daemon, build_missing=False).ensure(env)
    assert f"environment tools ({env.key[:12]}) is not built" in caught.value.message
    assert caught.value.fix == "assay env build tools"
    assert builds(tmp_path) == [] and daemon.imports == []


def test_stale_images_are_the_old_builders_and_those_without_a_tree(tmp_path: Path) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    images, kept = _images(store, daemon), _environment("kept")
    gone = Environment(plan_named("gone", "make"))  # another spec: another key
    images.ensure(kept)
    images.ensure(gone)
    images.provider.release()  # the trees' locks, so that the store can remove one
    store.remove(gone.key)
    daemon.images["assay-c:2"] = {
        "Id": "sha256:old",
        "RepoTags": ["assay-c:2", "assay-cpp:2"],
        "Config": {"Labels": {LABEL_IMAGE: "c,cpp"}},
    }
    daemon.images["sha256:replaced"] = {
        "Id": "sha256:replaced",
        "RepoTags": [],
        "Config": {"Labels": {LABEL_IMAGE: "kept", LABEL_KEY: kept.key}},
    }
    stale = dict(images.stale(keep=set()))
    assert set(stale) == {"assay-c:2", "assay-cpp:2", gone.docker_image, "sha256:replaced"}
    assert "replaced by a later import" in stale["sha256:replaced"]
    assert "old debootstrap builder" in stale["assay-c:2"]
    assert "not in the store" in stale[gone.docker_image]
    assert images.stale(keep={gone.key}) == [
        ("assay-c:2", stale["assay-c:2"]),
        ("assay-cpp:2", stale["assay-cpp:2"]),
        ("sha256:replaced", stale["sha256:replaced"]),
    ]


def test_the_daemon_part_matches_docker_api() -> None:
    for name in ("image_info", "import_image", "images_labelled", "remove_image", "close"):
        assert callable(getattr(DockerAPI, name))


def test_image_build_builds_the_tree_then_imports_it_and_a_second_run_does_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, daemon = scripted_store(tmp_path), RecordingDaemon()
    monkeypatch.setattr(image_cli, "store_from_settings", lambda *_a, **_k: store)
    monkeypatch.setattr(image_cli, "_images", lambda s: _images(s, daemon))
    spec = tmp_path / "environment.toml"
    spec.write_text('name = "tools"\napt = ["jq"]\n')
    first = runner.invoke(image_cli.app, ["build", str(spec)], terminal_width=200)
    assert first.exit_code == 0, first.output
    assert "tools: built in" in first.output
    assert "tools: imported as assay-env:" in first.output
    second = runner.invoke(image_cli.app, ["build", str(spec)], terminal_width=200)
    assert second.exit_code == 0, second.output
    assert "tools: built already" in second.output
    assert "present" in second.output
    assert builds(tmp_path) == ["tools"] and len(daemon.imports) == 1
    listed = runner.invoke(image_cli.app, ["list", str(spec)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "present" in listed.output
