"""A sandbox backend that runs nothing and only SLEEPS for a run's duration.

For the cluster-scale benchmark (bench/cluster_scale.py): the worker processes run
the real WorkerPool, queue, grading engine and database code, but a run costs no
CPU, so what is measured is the queue and the database, not the sandbox.

It plays the flood assignment (bench/flood_assignment: ``python3 add.py``, stdin
``3 4``, expected ``7``) with the three kinds of program an exam sees, told apart by
the submitted ``add.py``:

    correct  (the solution)      sleeps a drawn time, prints 7     -> passed
    wrong    (prints a + b + 1)  sleeps a drawn time, prints 8     -> failed
    loop     (``while True``)    sleeps the wall-clock limit       -> timeout

The drawn time is log-normal (median ``median_s``, shape ``sigma``) and capped below
the wall-clock limit: most test runs of typical exercises take a fraction of a
second, a few take seconds. Nothing here is isolated: it never runs code at all.
"""

from __future__ import annotations

import math
import random
import threading
import time

from assay.sandbox.base import SessionConfig
from assay.sandbox.fake import FakeBackend, FakeSession, FakeWorkspace, fake_result
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import RunSpec

LOOP_MARK = "while True"
WRONG_MARK = "+ 1"
SUBMITTED = "add.py"


class SleepBackend(FakeBackend):
    """``FakeBackend`` whose runs sleep (see module docstring); sessions are not kept."""

    name = "sleep"

    def __init__(self, median_s: float = 0.5, sigma: float = 0.8, seed: int | None = None) -> None:
        super().__init__(self._run)
        self.median_s = median_s
        self.sigma = sigma
        self._random = random.Random(seed)  # noqa: S311 - durations, not secrets
        self._lock = threading.Lock()

    def open_session(self, config: SessionConfig) -> FakeSession:
        session = super().open_session(config)
        self.sessions.clear()  # a long run would otherwise keep every session's workspace
        return session

    def draw_s(self, wall_limit_s: float) -> float:
        """A run's duration: log-normal, below the wall-clock limit."""
        if self.median_s <= 0:
            return 0.0
        with self._lock:
            drawn = self._random.lognormvariate(math.log(self.median_s), self.sigma)
        return min(drawn, 0.9 * wall_limit_s)

    def _run(self, spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        wall = float(spec.limits.wall_time_s or 10.0)
        try:
            source = workspace.read(SUBMITTED).decode(errors="replace")
        except Exception:  # noqa: BLE001 - a run of anything else (a build step)
            source = ""
        if LOOP_MARK in source:
            time.sleep(wall)
            return RunResult(
                termination=Termination.WALL_TIME_LIMIT,
                exit_code=None,
                signal=9,
                cpu_time_s=0.0,
                wall_time_s=wall,
                peak_memory_bytes=0,
                stdout=b"",
                stderr=b"",
            )
        duration = self.draw_s(wall)
        time.sleep(duration)
        output = b"8\n" if WRONG_MARK in source else b"7\n"
        result = fake_result(output if source else b"")
        return RunResult(**{**result.__dict__, "wall_time_s": duration})
