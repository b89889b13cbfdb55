"""The native backend's CPU scheduler on the real kernel: short runs overtake CPU
hogs, and hogs that wait are not charged wall time for it (docs/performance.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assay.config import get_settings
from assay.sandbox import Limits, RunResult, Sandbox, Termination
from assay.sandbox.native.backend import BwrapBackend
from helpers import MIB, assert_exited_ok, assert_termination, describe, require_backend

pytestmark = pytest.mark.native

HOGS = 6
# Six hogs on two scheduler slots need 9 s of CPU. Shared by the kernel instead,
# each would get a third of a core and meet its 2.5 s wall limit long before
# its 1.5 s of CPU: only a scheduler that stops their wall clock while they
# wait gives every one of them the CPU verdict.
HOG_LIMITS = Limits(cpu_time_s=1.5, wall_time_s=2.5, memory_bytes=64 * MIB, pids=8)


@pytest.fixture
def backend() -> Iterator[BwrapBackend]:
    require_backend("native")
    settings = get_settings().model_copy(
        update={"native_cpu_scheduling": True, "native_cpu_slots": 2}
    )
    backend = BwrapBackend(settings)
    yield backend
    backend.shutdown()


def test_a_short_run_overtakes_cpu_hogs_which_all_get_their_cpu_verdict(
    backend: BwrapBackend,
) -> None:
    boxes = [Sandbox("python3", backend=backend, limits=HOG_LIMITS).open() for _ in range(HOGS)]
    quick_box = Sandbox("python3", backend=backend).open()
    hogs: dict[int, RunResult] = {}

    def hog(n: int) -> None:
        hogs[n] = boxes[n].run(["python3", "-c", "while True: pass"])

    threads = [threading.Thread(target=hog, args=(n,)) for n in range(HOGS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.8)  # every hog has started and used more than a quantum
        assert backend.scheduler is not None
        stats = backend.scheduler.stats()
        started = time.monotonic()
        quick = quick_box.run(["python3", "-c", "print(6 * 7)"])
        quick_s = time.monotonic() - started
        for thread in threads:
            thread.join(60)
    finally:
        for box in [*boxes, quick_box]:
            box.close()

    assert stats.running <= 2 and stats.frozen + stats.waiting >= HOGS - 2, stats
    assert_exited_ok(quick)
    assert quick.stdout == b"42\n"
    assert quick_s < 1.5, f"the short run waited {quick_s:.2f} s behind the hogs"
    assert sorted(hogs) == list(range(HOGS))
    for result in hogs.values():
        assert_termination(result, Termination.CPU_TIME_LIMIT)
        assert result.wall_time_s < HOG_LIMITS.wall_time_s, describe(result)
    assert backend.scheduler.stats().freezes > 0
