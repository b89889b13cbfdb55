"""How long a run was starved of CPU by other load: time its wall clock does not pay.

A run's wall limit is there to stop programs that sleep, block or spin too
long, not to punish one that waited for a CPU because the machine was busy:
that would make the same program pass on an idle machine and time out on a
loaded one. ``StallClock`` estimates the time in which the run wanted a CPU
and had none (the kernel's "full" CPU pressure, which cgroup v1 does not
report per cgroup) from each thread's scheduler statistics
(``/proc/<tid>/schedstat``: time run, time waited on a run queue): over each
interval, the chance that no thread of the run was running, less the chance
that every thread was asleep, treating threads as independent. It is exact
for a single-threaded program and close for many (a fork bomb holding every
core is charged about nine tenths of its time, never less).

The excused time is capped (``MAX_STALL_FACTOR`` times the wall limit) so a
run on a machine that never gives it a CPU still ends.
"""

from __future__ import annotations

from pathlib import Path

MAX_STALL_FACTOR = 10.0


def _schedstat(tid: str) -> tuple[int, int] | None:
    try:
        fields = Path(f"/proc/{tid}/schedstat").read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile, or no scheduler statistics


class StallClock:
    """Seconds a run's threads (listed in ``threads_file``) were starved of CPU."""

    def __init__(self, threads_file: Path, now: float) -> None:
        self.threads_file = threads_file
        self.stalled_s = 0.0
        self._time = now
        self._last = self._sample()

    def _sample(self) -> dict[str, tuple[int, int]]:
        try:
            tids = self.threads_file.read_text().split()
        except OSError:
            return {}
        found = {tid: _schedstat(tid) for tid in tids}
        return {tid: stat for tid, stat in found.items() if stat is not None}

    @property
    def sampled_at(self) -> float:
        """When the threads were last sampled (monotonic)."""
        return self._time

    def rebase(self, now: float) -> None:
        """Start a new interval without counting the last one (the run was frozen)."""
        self._time, self._last = now, self._sample()

    def update(self, now: float) -> float:
        """Add the stall since the last update; the total so far."""
        interval_ns = (now - self._time) * 1e9
        sample = self._sample()
        if interval_ns > 0 and sample:
            none_running = all_asleep = 1.0
            for tid, (ran, waited) in sample.items():
                ran_before, waited_before = self._last.get(tid, (0, 0))
                running = min(1.0, max(0.0, (ran - ran_before) / interval_ns))
                waiting = min(1.0 - running, max(0.0, (waited - waited_before) / interval_ns))
                none_running *= 1.0 - running
                all_asleep *= 1.0 - running - waiting
            self.stalled_s += max(0.0, none_running - all_asleep) * interval_ns / 1e9
        self._time, self._last = now, sample
        return self.stalled_s
