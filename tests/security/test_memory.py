"""Threat 2: memory bombs — one process, many children, shared memory, /dev/shm."""

from __future__ import annotations

import resource

import pytest

from assay.sandbox import Termination
from helpers import (
    GRACE_S,
    MIB,
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    assert_termination,
    describe,
    py,
    timed,
)

LIMITS = QUICK_LIMITS.replace(memory_bytes=128 * MIB, wall_time_s=10)

SINGLE = """
    chunks = []
    while True:
        chunks.append(b"\\x01" * (16 << 20))
"""

SPREAD = """
    import os, time
    children = []
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            x = b"\\x01" * (32 << 20)  # 8 x 32 MiB = 256 MiB over the tree
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    print("all children finished")
"""

SHARED_ANON = """
    import mmap
    m = mmap.mmap(-1, 512 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    for offset in range(0, len(m), 4096):
        m[offset] = 1
    print("survived")
"""

DEV_SHM = """
    import errno, os
    written = 0
    try:
        with open("/dev/shm/bomb", "wb") as f:
            while written < (512 << 20):
                f.write(b"\\x01" * (1 << 20))
                f.flush()
                written += 1 << 20
    except OSError as e:
        print("error", errno.errorcode[e.errno], written >> 20, flush=True)
    else:
        print("wrote", written >> 20, flush=True)
"""


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_memory_bomb(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    before = _maxrss_bytes()
    result, elapsed = timed(lambda: py(box, SINGLE))
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert elapsed < 10 + GRACE_S
    assert _maxrss_bytes() - before < 64 * MIB, "the test process itself grew"
    assert_exited_ok(box.run(["true"]))
    host.check(box)


@pytest.mark.slow
def test_memory_bomb_spread_over_children(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    # Both backends let the survivors run on after the first OOM kill, so the verdict
    # may come only at the wall limit; it must still be the memory limit.
    limits = LIMITS.replace(wall_time_s=4)
    box = open_sandbox(limits=limits)
    result, elapsed = timed(lambda: py(box, SPREAD, limits=limits))
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert b"all children finished" not in result.stdout
    assert elapsed < 4 + GRACE_S
    host.check(box)


def test_shared_anonymous_memory_counts(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS)
    result = py(box, SHARED_ANON)
    assert_termination(result, Termination.MEMORY_LIMIT)
    assert b"survived" not in result.stdout
    host.check(box)


def test_dev_shm_bomb(open_sandbox: SandboxFactory, host: HostGuard) -> None:
    box = open_sandbox(limits=LIMITS.replace(file_size_bytes=1024 * MIB))
    result = py(box, DEV_SHM)
    # The cgroup counts the tmpfs pages (memory limit), or /dev/shm is small and full
    # before the memory limit, or there is no writable /dev/shm; never 512 MiB of RAM.
    if result.termination is Termination.EXITED:
        status, err, mib = result.stdout.split()
        assert status == b"error", describe(result)
        if err == b"ENOSPC":
            assert int(mib) <= 128, describe(result)
        else:
            assert err in (b"ENOENT", b"EACCES", b"EROFS", b"EPERM"), describe(result)
            assert int(mib) == 0, describe(result)
    else:
        assert_termination(result, Termination.MEMORY_LIMIT)
    host.check(box)
