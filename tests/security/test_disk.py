"""Threats 3 and 6: filling the disk, huge and sparse files, inode and fd exhaustion."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from assay.errors import WorkspacePathError
from assay.sandbox import Termination
from helpers import (
    MIB,
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    describe,
    py,
    timed,
)

WORKSPACE_BYTES = 32 * MIB
LIMITS = QUICK_LIMITS.replace(
    workspace_bytes=WORKSPACE_BYTES, file_size_bytes=1024 * MIB, wall_time_s=10
)
HOST_DISK_TOLERANCE = 16 * MIB

FILL = """
    import errno, os, sys
    path = sys.argv[1]
    written = 0
    try:
        with open(path, "wb") as f:
            while written < (4 << 30):
                f.write(b"\\x5a" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
                written += 1 << 20
    except OSError as e:
        print(errno.errorcode[e.errno], written)
    else:
        print("OK", written)
"""

SPARSE = """
    import errno, sys
    try:
        with open("sparse", "wb") as f:
            f.seek(1 << 40)
            f.write(b"end")
        print("OK")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""

INODES = """
    import errno, os
    os.mkdir("inodes")
    n = 0
    try:
        while n < 300000:
            os.close(os.open(f"inodes/{n}", os.O_CREAT | os.O_WRONLY, 0o600))
            n += 1
        print("OK", n)
    except OSError as e:
        print(errno.errorcode[e.errno], n)
"""

DEEP = """
    import os
    depth = 0
    for _ in range(1000):
        os.mkdir("dddddddddd")
        os.chdir("dddddddddd")
        depth += 1
    with open("bottom.txt", "w") as f:
        f.write("deep")
    print(depth)
"""

FDS = """
    import errno, os
    fds = []
    try:
        while True:
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        print(errno.errorcode[e.errno], len(fds))
"""


@pytest.fixture
def disk_free() -> Iterator[None]:
    """The host's root filesystem loses no more than a few MiB during the test."""
    before = shutil.disk_usage("/").free
    yield
    lost = before - shutil.disk_usage("/").free
    assert lost < HOST_DISK_TOLERANCE, f"host disk lost {lost / MIB:.0f} MiB"


@pytest.mark.usefixtures("disk_free")
@pytest.mark.parametrize("path", ["/work/fill", "/tmp/fill"])
def test_filling_the_disk_stops_at_the_workspace_limit(
    open_sandbox: SandboxFactory, host: HostGuard, path: str
) -> None:
    box = open_sandbox(limits=LIMITS)
    before = shutil.disk_usage("/").free
    result = py(box, FILL, path)
    assert_exited_ok(result)
    err, written = result.stdout.split()
    assert err in (b"ENOSPC", b"EDQUOT"), describe(result)
    assert int(written) <= WORKSPACE_BYTES, describe(result)
    lost = before - shutil.disk_usage("/").free
    assert lost < HOST_DISK_TOLERANCE, f"host disk lost {lost / MIB:.0f} MiB while full"
    # after the run, the workspace is still usable once the file is gone
    assert_exited_ok(box.run(["rm", "-f", path]))
    assert_exited_ok(box.run(["sh", "-c", "echo ok > small && cat small"]))
    host.check(box)


@pytest.mark.usefixtures("disk_free")
def test_file_size_limit_gives_efbig(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS.replace(file_size_bytes=4 * MIB))
    result = py(box, FILL, "/work/big")
    assert_exited_ok(result)
    assert result.stdout.split() == [b"EFBIG", str(4 * MIB).encode()], describe(result)
    host.check(box)


@pytest.mark.usefixtures("disk_free")
def test_huge_sparse_file(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, SPARSE)
    assert_exited_ok(result)
    assert result.stdout == b"EFBIG\n", describe(result)  # beyond file_size_bytes

    # with a file size limit beyond 1 TiB the file may exist; reading it stays bounded
    result = py(box, SPARSE, limits=LIMITS.replace(file_size_bytes=2 << 40))
    assert_exited_ok(result)
    assert result.stdout in (b"OK\n", b"EFBIG\n", b"ENOSPC\n"), describe(result)
    start = time.monotonic()
    with pytest.raises(WorkspacePathError):
        box.read_file("sparse", max_bytes=MIB)
    assert time.monotonic() - start < 2, "reading a huge file was not refused promptly"
    assert "sparse" in box.list_files()
    host.check(box)


@pytest.mark.slow
@pytest.mark.usefixtures("disk_free")
def test_inode_bomb(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, INODES)
    # Stops at the inode limit, or at the memory limit (inodes are kernel memory
    # charged to the cgroup), or runs out of wall time; the host copes either way.
    if result.termination is Termination.EXITED:
        assert result.exit_code == 0, describe(result)
        assert result.stdout.split()[0] in (b"ENOSPC", b"EDQUOT", b"OK"), describe(result)
    else:
        assert result.termination in (Termination.WALL_TIME_LIMIT, Termination.MEMORY_LIMIT), (
            describe(result)
        )
    start = time.monotonic()
    assert box.list_files() == ["inodes"]
    assert time.monotonic() - start < 10, "listing took too long"
    start = time.monotonic()
    box.reset()
    host.after_reset()
    assert box.list_files() == []
    assert time.monotonic() - start < 20, "reset took too long"
    host.check(box)


def test_thousand_deep_directories(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, DEEP)
    assert_exited_ok(result)
    assert result.stdout == b"1000\n"  # 11,000 characters: deeper than PATH_MAX
    assert box.list_files() == ["dddddddddd"]
    box.reset()
    host.after_reset()
    assert box.list_files() == []
    result = py(box, DEEP)
    assert_exited_ok(result)
    host.check(box)


def test_fd_exhaustion(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS.replace(open_files=64))
    result, elapsed = timed(lambda: py(box, FDS))
    assert_exited_ok(result)
    err, count = result.stdout.split()
    assert err == b"EMFILE", describe(result)
    assert int(count) <= 64
    assert elapsed < 5
    host.check(box)
