"""The environment store with a scripted builder: once per key, atomic, locked, cleaned.

No root and no Debian mirror: ``ScriptedBuilder`` writes a small tree (or fails)
and counts its builds in a file, so two processes can share the count.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assay.errors import EnvironmentBuildError, UnknownEnvironmentError
from assay.sandbox.envs.buildlog import BuildEvent, BuildLog
from assay.sandbox.envs.plan import BuildPlan, compute_key
from assay.sandbox.envs.store import EnvironmentStore, Removal, Source, disk_usage
from env_helpers import ScriptedBuilder, age, builds, plan_named, scripted_store


def test_a_build_is_renamed_into_place_with_its_files(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    events: list[BuildEvent] = []
    outcome = store.ensure(planned, events.append)
    entry = store.root / planned.key
    assert not outcome.cached
    assert outcome.rootfs == entry / "rootfs"
    assert (entry / "rootfs/marker").read_text() == planned.key
    assert sorted(p.name for p in entry.iterdir()) == [
        "build.log",
        "meta.json",
        "rootfs",
        "spec.json",
    ]
    assert compute_key(json.loads((entry / "spec.json").read_bytes())) == planned.key
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["name"] == "one"
    assert meta["builder"] == "scripted"
    assert meta["size_bytes"] == disk_usage(entry / "rootfs") > 0
    assert meta["created"] == meta["last_used"]
    log = (entry / "build.log").read_text()
    assert f"key {planned.key}" in log
    assert "scripted build" in log
    assert "some output" in log
    assert BuildEvent("one", "scripted build") in events
    assert BuildEvent("one", "scripted build", "some output") in events
    assert sorted(p.name for p in store.root.iterdir()) == [planned.key, f"{planned.key}.lock"]


def test_the_same_key_never_builds_twice(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    started = time.monotonic()
    again = store.ensure(plan_named("renamed", "jq"))  # a name is not part of the key
    assert again.source is Source.STORE
    assert time.monotonic() - started < 0.1
    assert builds(tmp_path) == ["one"]


def test_a_lookup_records_the_last_use(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    old = age(store, planned.key, 3)
    assert store.lookup(planned.key, touch=False) is not None
    assert store.meta(planned.key).last_used == old  # type: ignore[union-attr]
    store.lookup(planned.key)
    recorded = store.meta(planned.key).last_used  # type: ignore[union-attr]
    assert recorded > old
    meta_file = store.root / planned.key / "meta.json"
    written = meta_file.stat().st_mtime_ns
    store.lookup(planned.key)  # within a minute of the last record: nothing written
    assert meta_file.stat().st_mtime_ns == written


def test_a_lookup_in_a_read_only_store_still_finds_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    old = age(store, planned.key, 3)

    def read_only(entry: Path, meta: object) -> None:
        raise OSError(30, "Read-only file system", str(entry))

    monkeypatch.setattr(store, "_write_meta", read_only)
    assert store.lookup(planned.key) == store.root / planned.key / "rootfs"
    assert store.meta(planned.key).last_used == old  # type: ignore[union-attr]


def test_a_failed_build_leaves_only_its_log(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("bad", "fail")
    with pytest.raises(EnvironmentBuildError) as caught:
        store.ensure(planned)
    log = store.failed_log(planned.key)
    assert caught.value.log_path == str(log)
    assert caught.value.message == f"the scripted step failed\n(build log: {log})"
    assert "some output" in log.read_text()
    assert sorted(p.name for p in store.root.iterdir()) == sorted(["failed", f"{planned.key}.lock"])
    assert store.lookup(planned.key) is None


def test_an_os_error_in_a_build_is_a_build_error_with_the_log(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("denied", "oserror")
    with pytest.raises(EnvironmentBuildError, match=r"building denied failed: .*Permission denied"):
        store.ensure(planned)
    assert store.failed_log(planned.key).is_file()
    assert not list(store.root.glob(".build-*"))


def test_an_interrupted_build_is_cleaned_up_too(tmp_path: Path) -> None:
    class Interrupting(ScriptedBuilder):
        def build(self, plan: BuildPlan, target: Path, log: BuildLog, base: Path | None) -> None:
            target.mkdir()
            raise KeyboardInterrupt

    store = EnvironmentStore(tmp_path / "store", Interrupting(tmp_path / "count"))
    planned = plan_named("one", "jq")
    with pytest.raises(KeyboardInterrupt):
        store.ensure(planned)
    assert not list(store.root.glob(".build-*"))
    assert not (store.root / planned.key).exists()


def test_leftovers_of_a_killed_build_are_removed_by_the_next_one(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    leftover = store.root / f".build-{planned.key}-killed"
    (leftover / "rootfs").mkdir(parents=True)
    store.ensure(planned)
    assert not leftover.exists()


def test_a_derived_plan_builds_its_base_first(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    derived = plan_named("derived", "jq", base="python3")
    assert derived.base is not None
    outcome = store.ensure(derived)
    assert builds(tmp_path) == ["python3", "derived"]
    assert (outcome.rootfs / "base").read_text() == derived.base.key
    store.ensure(derived)
    assert builds(tmp_path) == ["python3", "derived"]


def test_a_store_without_a_builder_says_so(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError, match="one is not built and this store cannot"):
        EnvironmentStore(tmp_path).ensure(plan_named("one", "jq"))


def test_remove_resolve_and_entries(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    one, two = plan_named("one", "jq"), plan_named("two", "make")
    store.ensure(one)
    store.ensure(two)
    assert [m.name for m in store.entries()] == ["one", "two"]
    assert store.resolve_key(one.key[:8]) == one.key
    with pytest.raises(UnknownEnvironmentError, match="a longer"):
        store.resolve_key(one.key[:3])
    with pytest.raises(UnknownEnvironmentError, match="no stored"):
        store.resolve_key("ffffffffff")
    with pytest.raises(UnknownEnvironmentError, match="not an environment key"):
        store.remove("../etc")
    assert store.remove(one.key) is Removal.REMOVED
    assert store.remove(one.key) is Removal.ABSENT
    assert [m.name for m in store.entries()] == ["two"]
    assert not list(store.root.glob(".trash-*"))


def test_a_tree_in_use_is_not_removed(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    with store.use(planned.key) as rootfs:
        assert (rootfs / "marker").read_text() == planned.key
        with store.use(planned.key):  # users share
            assert store.remove(planned.key, wait=False) is Removal.IN_USE
        assert store.remove(planned.key, wait=False) is Removal.IN_USE
        assert rootfs.is_dir()
    assert store.remove(planned.key, wait=False) is Removal.REMOVED
    with pytest.raises(UnknownEnvironmentError, match="is not built"), store.use(planned.key):
        pass


def test_a_removal_waits_for_the_last_user(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    done: list[Removal] = []
    with store.use(planned.key):
        remover = threading.Thread(target=lambda: done.append(store.remove(planned.key)))
        remover.start()
        time.sleep(0.3)
        assert done == []
        assert (store.root / planned.key).is_dir()
    remover.join(10)
    assert done == [Removal.REMOVED]


def test_stale_keeps_recent_and_kept_keys(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    old, kept, recent = (
        plan_named("old", "jq"),
        plan_named("kept", "make"),
        plan_named("recent", "gcc"),
    )
    for planned in (old, kept, recent):
        store.ensure(planned)
    for planned in (old, kept):
        age(store, planned.key, 40)
    stale = store.stale(30 * 86400, keep={kept.key})
    assert [m.name for m in stale] == ["old"]
    assert [m.name for m in store.stale(0, keep=set())] == ["kept", "old", "recent"]


def test_sweep_removes_unlocked_leftovers_only(tmp_path: Path) -> None:
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    (store.root / f".build-{planned.key}-old").mkdir()
    (store.root / ".trash-x").mkdir()
    other = plan_named("two", "make").key
    (store.root / f".build-{other}-running").mkdir()
    with (store.root / f"{other}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a build of ``other`` in progress
        removed = store.sweep()
    assert sorted(p.name for p in removed) == sorted([".trash-x", f".build-{planned.key}-old"])
    assert (store.root / f".build-{other}-running").is_dir()
    assert store.lookup(planned.key) is not None


class DirectorySource:
    """A remote source that copies from another store's directory."""

    def __init__(self, other: Path, tamper: bool = False) -> None:
        self.other = other
        self.tamper = tamper
        self.asked: list[str] = []

    def fetch(self, key: str, destination: Path) -> bool:
        self.asked.append(key)
        source = self.other / key
        if not source.is_dir():
            return False
        subprocess.run(["cp", "-a", f"{source}/.", str(destination)], check=True)
        if self.tamper:
            (destination / "spec.json").write_text('{"apt": ["other"]}')
        return True


def test_a_remote_source_is_asked_before_building_and_checked(tmp_path: Path) -> None:
    origin = EnvironmentStore(tmp_path / "origin", ScriptedBuilder(tmp_path / "origin-count"))
    planned = plan_named("one", "jq")
    origin.ensure(planned)
    remote = DirectorySource(origin.root)
    worker = EnvironmentStore(tmp_path / "worker", ScriptedBuilder(tmp_path / "count"), remote)
    outcome = worker.ensure(planned)
    assert outcome.source is Source.FETCHED
    assert (outcome.rootfs / "marker").read_text() == planned.key
    assert remote.asked == [planned.key]
    assert builds(tmp_path) == []
    other = plan_named("two", "make")
    worker.ensure(other)  # the remote lacks it: built here
    assert builds(tmp_path) == ["two"]
    bad = EnvironmentStore(tmp_path / "bad", None, DirectorySource(origin.root, tamper=True))
    with pytest.raises(EnvironmentBuildError, match="does not match its key"):
        bad.ensure(planned)
    assert not list((tmp_path / "bad").glob(".build-*"))


_RACER = """
import sys
from pathlib import Path
sys.path[:0] = {paths!r}
from env_helpers import ScriptedBuilder, plan_named
from assay.sandbox.envs.store import EnvironmentStore
store = EnvironmentStore(Path({root!r}), ScriptedBuilder(Path({count!r}), delay_s=1.0))
outcome = store.ensure(plan_named("raced", "jq"))
print(outcome.source, outcome.rootfs)
"""


def test_two_processes_building_one_key_build_it_once(tmp_path: Path) -> None:
    here = str(Path(__file__).parent.parent)  # tests/: env_helpers
    script = textwrap.dedent(_RACER).format(
        paths=[here, *sys.path], root=str(tmp_path / "store"), count=str(tmp_path / "count")
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=60)[0].split()[0] for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert outputs == ["built", "waited"]
    assert builds(tmp_path) == ["raced"]
    store = EnvironmentStore(tmp_path / "store")
    assert [m.name for m in store.entries()] == ["raced"]
    assert not list(store.root.glob(".build-*"))
    assert os.listdir(store.root / plan_named("raced", "jq").key / "rootfs") == ["marker"]


def test_a_waiter_takes_a_tree_its_maker_already_uses(tmp_path: Path) -> None:
    """The maker of a tree goes on to use it, holding the key's lock shared (and the
    kernel may grant its users' shared locks before a waiting exclusive one): a second
    process that asked for the tree while it was being made must not wait for an
    exclusive lock that overlapping users keep from it, but take the tree."""
    store = scripted_store(tmp_path)
    planned = plan_named("one", "jq")
    store.ensure(planned)
    entry = store.root / planned.key
    hidden = tmp_path / "being-made"
    entry.rename(hidden)  # not there yet
    with (store.root / f"{planned.key}.lock").open("a") as user:
        fcntl.flock(user, fcntl.LOCK_SH)  # the maker's sandboxes hold it shared
        outcomes: list[Source] = []
        waiter = threading.Thread(target=lambda: outcomes.append(store.ensure(planned).source))
        waiter.start()
        time.sleep(0.5)
        assert outcomes == []  # waiting: nothing to take yet
        hidden.rename(entry)  # made
        waiter.join(5)
        assert not waiter.is_alive(), "the waiter still waits for the lock of a made tree"
    assert outcomes == [Source.WAITED]
    assert builds(tmp_path) == ["one"]
