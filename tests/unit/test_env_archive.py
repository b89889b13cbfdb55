"""Environment archives: a store entry packed, checked and unpacked by the rules, and
shared through the database (SQLite here; PostgreSQL in the worker's integration test)."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from sqlalchemy import select, update

from assay.errors import EnvironmentArchiveError, EnvironmentBuildError
from assay.grading.stages import Stage
from assay.sandbox.environments import Environment
from assay.sandbox.envs import archive
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.envs.store import EnvironmentStore, Source
from assay.services.catalog import environments
from assay.storage.db import Database
from assay.storage.models import EnvironmentArchive, EnvironmentArchiveChunk
from env_helpers import ScriptedBuilder, builds, plan_named

ROOT = os.geteuid() == 0


def make_entry(entry: Path) -> None:
    rootfs = entry / "rootfs"
    for directory in ("usr/bin", "etc", "tmp"):
        (rootfs / directory).mkdir(parents=True)
    (entry / "spec.json").write_text("{}")
    (entry / "meta.json").write_text("{}")
    (rootfs / "usr/bin/tool").write_text("#!/bin/sh\n")
    (rootfs / "usr/bin/tool").chmod(0o4755)  # setuid: cleared on the way in
    os.link(rootfs / "usr/bin/tool", rootfs / "usr/bin/tool-again")
    (rootfs / "bin").symlink_to("usr/bin")
    (rootfs / "etc/alternative").symlink_to("/usr/bin/tool")  # absolute: kept as it is
    (rootfs / "etc/shadow").write_text("secret")
    (rootfs / "etc/shadow").chmod(0o640)
    (rootfs / "tmp").chmod(0o1777)
    if ROOT:
        os.chown(rootfs / "etc/shadow", 0, 42)
        os.chown(rootfs / "tmp", 1000, 1000)


def packed(entry: Path, target: Path) -> archive.Packed:
    with target.open("wb") as out:
        return archive.pack(entry, out)


@pytest.fixture(
    params=[
        True,
        # Python 3.12+ warns of extractall without a filter, which these never reach there
        pytest.param(False, marks=pytest.mark.filterwarnings("ignore::DeprecationWarning")),
    ],
    ids=["filters", "no-filters"],
)
def extraction(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """unpack with extraction filters (Python 3.11.4+) and without (Debian's 3.11.2)."""
    monkeypatch.setattr(archive, "EXTRACTION_FILTERS", request.param)
    return bool(request.param)


@pytest.mark.usefixtures("extraction")
def test_an_entry_comes_back_with_modes_links_and_owners(tmp_path: Path) -> None:
    make_entry(tmp_path / "entry")
    info = packed(tmp_path / "entry", tmp_path / "a.tar.zst")
    assert info.size_bytes == (tmp_path / "a.tar.zst").stat().st_size
    data = (tmp_path / "a.tar.zst").read_bytes()
    chunks = [data[i : i + 100] for i in range(0, len(data), 100)]
    archive.spool(chunks, tmp_path / "b.tar.zst", info.sha256, info.size_bytes)
    out = tmp_path / "out"
    out.mkdir()
    archive.unpack(tmp_path / "b.tar.zst", out)
    rootfs = out / "rootfs"
    assert (out / "spec.json").read_text() == "{}"
    assert stat.S_IMODE((rootfs / "usr/bin/tool").stat().st_mode) == 0o755
    assert (rootfs / "usr/bin/tool").stat().st_ino == (rootfs / "usr/bin/tool-again").stat().st_ino
    assert os.readlink(rootfs / "bin") == "usr/bin"
    assert os.readlink(rootfs / "etc/alternative") == "/usr/bin/tool"
    assert stat.S_IMODE((rootfs / "etc/shadow").stat().st_mode) == 0o640
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    if ROOT:
        assert (rootfs / "etc/shadow").stat().st_gid == 42
        assert (rootfs / "tmp").stat().st_uid == 1000


def test_a_tampered_or_short_archive_is_refused_before_unpacking(tmp_path: Path) -> None:
    make_entry(tmp_path / "entry")
    info = packed(tmp_path / "entry", tmp_path / "a.tar.zst")
    data = bytearray((tmp_path / "a.tar.zst").read_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises(EnvironmentArchiveError, match="archive is damaged"):
        archive.spool([bytes(data)], tmp_path / "b", info.sha256, info.size_bytes)
    with pytest.raises(EnvironmentArchiveError, match="archive is damaged"):
        archive.spool([bytes(data[:-1])], tmp_path / "b", info.sha256, info.size_bytes)


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data else None)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    member.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return member


def _hostile() -> Iterator[tuple[str, list[tuple[tarfile.TarInfo, bytes]], str]]:
    yield "dotdot", [(_member("rootfs/../../evil"), b"x")], "not a relative path"
    yield "absolute", [(_member("/evil"), b"x")], "not a relative path"
    yield "stranger", [(_member("evil"), b"x")], "not part of an environment"
    yield "device", [(_member("rootfs/dev-null", tarfile.CHRTYPE), b"")], "device node"
    yield "fifo", [(_member("rootfs/fifo", tarfile.FIFOTYPE), b"")], "device node"
    yield (
        "hard link out",
        [(_member("rootfs/passwd", tarfile.LNKTYPE, "../../../etc/passwd"), b"")],
        "not a relative path",
    )
    # a link to a directory outside, then a file written through it
    yield (
        "through a link",
        [
            (_member("rootfs", tarfile.DIRTYPE), b""),
            (_member("rootfs/out", tarfile.SYMTYPE, "OUTSIDE"), b""),
            (_member("rootfs/out/planted"), b"x"),
        ],
        "leads out of the tree",
    )


@pytest.mark.usefixtures("extraction")
@pytest.mark.parametrize("case", list(_hostile()), ids=lambda case: case[0])
def test_hostile_members_are_refused(
    tmp_path: Path, case: tuple[str, list[tuple[tarfile.TarInfo, bytes]], str]
) -> None:
    _, members, message = case
    outside = tmp_path / "outside"
    outside.mkdir()
    for member, _data in members:
        member.linkname = member.linkname.replace("OUTSIDE", str(outside))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(EnvironmentArchiveError, match=message):
        archive.unpack(_archive(tmp_path / "a.tar.zst", members), out)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "evil").exists()


# --- through the database ------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'assay.db'}")
    database.migrate()
    yield database
    database.dispose()


class Stages:
    def __init__(self) -> None:
        self.seen: list[tuple[Stage, str]] = []

    def stage(
        self, name: Stage, detail: str = "", current: int | None = None, total: int | None = None
    ) -> None:
        self.seen.append((name, detail))


def test_a_built_tree_is_published_and_another_store_fetches_it(
    tmp_path: Path, db: Database
) -> None:
    planned = plan_named("shared", "jq")
    origin = EnvironmentProvider(
        EnvironmentStore(tmp_path / "origin", ScriptedBuilder(tmp_path / "count"))
    )
    worker = EnvironmentProvider(EnvironmentStore(tmp_path / "worker", None))  # cannot build
    try:
        _publish_then_fetch(db, planned, origin, worker, tmp_path)
    finally:  # the locks held on trees in use
        origin.release()
        worker.release()


def _publish_then_fetch(
    db: Database,
    planned: BuildPlan,
    origin: EnvironmentProvider,
    worker: EnvironmentProvider,
    tmp_path: Path,
) -> None:
    sharing = environments.EnvironmentSharing.install(db, origin)
    assert sharing is not None
    assert environments.EnvironmentSharing.install(db, origin) is None  # once per provider
    origin.rootfs(planned)  # built here, then published on the sharing's thread
    sharing.close()
    info = environments.published(db, planned.key)
    assert info is not None and info.name == "shared" and info.chunks == 1
    assert environments.publish(db, origin.store, planned.key) is None  # there already

    assert environments.EnvironmentSharing.install(db, worker) is not None
    stages = Stages()
    cold = environments.prepare(worker, Environment(planned), stages)
    assert cold is not None and cold.source is Source.FETCHED
    assert builds(tmp_path) == ["shared"]  # built once, by the origin
    rootfs = worker.rootfs(planned)
    assert (rootfs / "marker").read_text() == planned.key
    assert json.loads((rootfs.parent / "meta.json").read_text())["name"] == "shared"
    assert [detail for _, detail in stages.seen][-1].startswith(
        "environment shared fetched from the platform in "
    )
    assert environments.prepare(worker, Environment(planned), stages) is None  # warm now
    with db.reading() as session:  # the cold start counted (``/metrics``)
        assert environments.summary(session).fetches == {"shared": 1}


def test_a_tampered_chunk_is_refused_and_nothing_is_kept(tmp_path: Path, db: Database) -> None:
    planned = plan_named("shared", "jq")
    origin = EnvironmentStore(tmp_path / "origin", ScriptedBuilder(tmp_path / "count"))
    origin.ensure(planned)
    assert environments.publish(db, origin, planned.key) is not None
    with db.session() as session:
        data = session.scalar(select(EnvironmentArchiveChunk.data))
        assert data is not None
        session.execute(update(EnvironmentArchiveChunk).values(data=data[:-1] + b"\0"))
    worker = EnvironmentStore(tmp_path / "worker", None, environments.DatabaseSource(db))
    with pytest.raises(EnvironmentBuildError, match="archive is damaged"):
        worker.ensure(planned)
    assert sorted(p.name for p in worker.root.iterdir()) == [f"{planned.key}.lock"]
    with db.session() as session:  # a row whose chunks are missing: refused too
        session.execute(update(EnvironmentArchive).values(chunks=2))
    with pytest.raises(EnvironmentBuildError):
        worker.ensure(planned)
    assert sorted(p.name for p in worker.root.iterdir()) == [f"{planned.key}.lock"]
