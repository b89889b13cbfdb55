"""Sharing the cores among runs: short runs overtake long ones without being known.

Without a scheduler every run starts at once and the kernel shares the CPU
among all of them: a burst of 200 infinite loops then makes a 30 ms program
wait for its turn behind them, and a loop that is starved by its neighbours
is killed by the wall clock ("time limit exceeded") instead of by its CPU
limit, a verdict that depends on the load.

``CpuScheduler`` lets at most ``cores`` busy runs use the CPU at a time, and
chooses them by *least attained service*: a run's priority level is the CPU
time it has used so far (level 0 below ``quantum_s``, each further level
doubles it, up to ``MAX_LEVEL``), lower levels first, the oldest first within
a level, "oldest" by the run's *group* first (a session's runs are one group,
numbered when it starts its first run: one submission's tests), then by the run.
A new run therefore overtakes every run that has already used more
than a quantum, and a run that goes on is demoted step by step. Grouping keeps a
submission whose later tests start after newer submissions' first tests ahead of
them: with the runs alone in order, a peak of many-test submissions is served
round robin across submissions, and every one of them finishes late. In the last
level the oldest run goes first, so long runs finish one after the other
(rather than all sharing the CPU and all finishing late, each holding its
memory), and the oldest of them always progresses: nothing starves. A run that is not allowed to run
either waits before it starts or, if it already runs, is frozen (cgroup
freezer). Its wall clock does not run while it waits or is frozen: a run is
charged only for the time it was allowed to use a core, so its verdict is the
same on an idle and on a flooded machine.

A run that uses almost no CPU *and* has no runnable thread (sleeping, blocked
on a pipe) gives its core back to the next one but is never frozen: its wall
clock runs, and the wall limit still stops it. (The CPU rate alone would call
a run starved by other load idle, and let yet more runs onto the CPU.)

Admission also waits for memory: a run does not start while the host's
available memory is below its memory limit, unless nothing else runs (to
always make progress).

A run waits at most ADMIT_WAIT_S to start (then ``SandboxError``). In a forked
child the scheduler starts empty: the parent's runs are not the child's.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from assay.errors import SandboxError
from assay.sandbox import forks
from assay.sandbox.native.cgroups import JobCgroup

log = logging.getLogger(__name__)

MAX_LEVEL = 4  # with the default quantum (0.05 s): runs past 0.4 s of CPU go in order
IDLE_WINDOW_S = 0.2  # how long a run's CPU rate is measured over to call it idle
IDLE_RATE = 0.2  # below this share of one core, a run does not hold a core
MEMINFO = Path("/proc/meminfo")
# The longest a run waits for its turn to start: far beyond any queue a worker's
# job slots make, so reaching it means the host cannot run anything.
ADMIT_WAIT_S = 1800.0


class RunState(StrEnum):
    WAITING = "waiting"  # not started yet
    RUNNING = "running"
    FROZEN = "frozen"  # started, preempted by runs with less CPU time used
    DONE = "done"


def available_memory_bytes(meminfo: Path = MEMINFO) -> int | None:
    """``MemAvailable`` of the host, or ``None`` if the kernel does not say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def level_of(cpu_s: float, quantum_s: float) -> int:
    """The priority level of a run that has used ``cpu_s``: 0 below one quantum,
    then one more each time the CPU used doubles, up to ``MAX_LEVEL``."""
    level, bound = 0, quantum_s
    while cpu_s >= bound and level < MAX_LEVEL:
        level += 1
        bound *= 2
    return level


class Ticket:
    """One run's place in the scheduler (changed only under the scheduler's lock)."""

    def __init__(
        self, lock: threading.Lock, seq: int, memory_bytes: int, group: int | None = None
    ) -> None:
        self.seq = seq
        self.group = seq if group is None else group
        self.memory_bytes = memory_bytes
        self.changed = threading.Condition(lock)
        self.state = RunState.WAITING
        self.cgroup: JobCgroup | None = None
        self.level = 0
        self.idle = False
        self.cpu_s = 0.0
        self._window = (0.0, 0.0)  # (monotonic time, cpu_s) where the idle window began
        self._paused_s = 0.0
        self._frozen_since: float | None = None

    def paused_s(self, now: float) -> float:
        """Seconds this run has spent frozen so far."""
        frozen_since = self._frozen_since
        ongoing = now - frozen_since if frozen_since is not None else 0.0
        return self._paused_s + max(0.0, ongoing)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.level, self.group, self.seq)


@dataclass(frozen=True)
class SchedulerStats:
    waiting: int
    running: int
    frozen: int
    freezes: int


class CpuScheduler:
    """Chooses which runs of this process may use the CPU (see the module docstring)."""

    def __init__(
        self,
        cores: int,
        quantum_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        memory: Callable[[], int | None] = available_memory_bytes,
    ) -> None:
        if cores < 1 or quantum_s <= 0:
            raise ValueError("a scheduler needs at least one core and a positive quantum")
        self.cores = cores
        self.quantum_s = quantum_s
        self._clock = clock
        self._memory = memory
        self._lock = threading.Lock()
        self._tickets: dict[int, Ticket] = {}
        self._seq = 0
        self._freezes = 0
        forks.register(self)

    def after_fork_in_child(self) -> None:
        """No run of the parent is the child's: an empty scheduler with a new lock."""
        self._lock = threading.Lock()
        self._tickets = {}

    # --- the run's side ---------------------------------------------------------------

    def new_group(self) -> int:
        """A group for the runs of one session, ordered by when it was asked for among
        the groups and the ungrouped runs."""
        with self._lock:
            self._seq += 1
            return self._seq

    def admit(self, memory_bytes: int, group: int | None = None) -> Ticket:
        """Wait until a new run may start; its ticket (give it back with ``leave``).
        ``group`` (``new_group``): the run goes with the older runs of its group."""
        with self._lock:
            self._seq += 1
            ticket = Ticket(self._lock, self._seq, memory_bytes, group)
            self._tickets[ticket.seq] = ticket
            self._rebalance()
            admitted = ticket.changed.wait_for(
                lambda: ticket.state is not RunState.WAITING, timeout=ADMIT_WAIT_S
            )
            if not admitted:
                self._tickets.pop(ticket.seq, None)
                ticket.state = RunState.DONE
                raise SandboxError(
                    f"a run waited {ADMIT_WAIT_S:.0f} s for a CPU and never got one "
                    f"({len(self._tickets)} runs ahead of it)"
                )
            ticket._window = (self._clock(), 0.0)
            return ticket

    def attach(self, ticket: Ticket, cgroup: JobCgroup) -> None:
        """The run's cgroup, before its program starts (a preempted run starts frozen)."""
        with self._lock:
            ticket.cgroup = cgroup
            if ticket.state is RunState.FROZEN:
                self._set_frozen(ticket, True)

    def report(self, ticket: Ticket, cpu_s: float, runnable: Callable[[], bool]) -> None:
        """The run's CPU time so far (its supervisor polls it); may change who runs.

        ``runnable`` tells whether a thread of the run wants a CPU; it is asked only
        when the run used little CPU over the last window."""
        with self._lock:
            if ticket.state is not RunState.RUNNING:
                return
            ticket.cpu_s = cpu_s
            changed = False
            level = level_of(cpu_s, self.quantum_s)
            if level != ticket.level:
                ticket.level, changed = level, True
            now = self._clock()
            began, cpu_then = ticket._window
            if now - began >= IDLE_WINDOW_S:
                idle = (cpu_s - cpu_then) / (now - began) < IDLE_RATE and not runnable()
                ticket._window = (now, cpu_s)
                if idle != ticket.idle:
                    ticket.idle, changed = idle, True
            if changed:
                self._rebalance()

    def next_level_at(self, cpu_s: float) -> float:
        """The CPU time at which a run that has used ``cpu_s`` moves down a level
        (infinity in the last level)."""
        bound = self.quantum_s
        for _ in range(MAX_LEVEL):
            if cpu_s < bound:
                return bound
            bound *= 2
        return math.inf

    def wait_running(self, ticket: Ticket, timeout_s: float) -> bool:
        """Wait (up to ``timeout_s``) while the run is frozen; True if it may run."""
        with self._lock:
            return ticket.changed.wait_for(
                lambda: ticket.state is not RunState.FROZEN, timeout=timeout_s
            )

    def frozen(self, ticket: Ticket) -> bool:
        return ticket.state is RunState.FROZEN

    def paused_s(self, ticket: Ticket) -> float:
        with self._lock:
            return ticket.paused_s(self._clock())

    def leave(self, ticket: Ticket) -> None:
        """The run is over (or never started): thaw it if frozen, let the next one run."""
        with self._lock:
            if ticket.state is RunState.FROZEN:
                self._set_frozen(ticket, False)
            ticket.state = RunState.DONE
            self._tickets.pop(ticket.seq, None)
            self._rebalance()

    def stats(self) -> SchedulerStats:
        with self._lock:
            states = [t.state for t in self._tickets.values()]
            return SchedulerStats(
                waiting=states.count(RunState.WAITING),
                running=states.count(RunState.RUNNING),
                frozen=states.count(RunState.FROZEN),
                freezes=self._freezes,
            )

    # --- decisions (lock held) ----------------------------------------------------------

    def _rebalance(self) -> None:
        busy = sorted((t for t in self._tickets.values() if not t.idle), key=lambda t: t.key)
        chosen, rest = busy[: self.cores], busy[self.cores :]
        # Freeze first, so the cores are free before anything else starts.
        for ticket in rest:
            if ticket.state is RunState.RUNNING:
                self._set_frozen(ticket, True)
                ticket.state = RunState.FROZEN
        for ticket in chosen:
            if ticket.state is RunState.FROZEN:
                self._set_frozen(ticket, False)
                ticket.state = RunState.RUNNING
                ticket.changed.notify_all()
            elif ticket.state is RunState.WAITING and self._memory_allows(ticket):
                ticket.state = RunState.RUNNING
                ticket.changed.notify_all()

    def _memory_allows(self, ticket: Ticket) -> bool:
        started = any(t.state is not RunState.WAITING for t in self._tickets.values())
        if not started:
            return True  # nothing would ever free memory: go
        available = self._memory()
        return available is None or available >= ticket.memory_bytes

    def _set_frozen(self, ticket: Ticket, frozen: bool) -> None:
        now = self._clock()
        if frozen:
            ticket._frozen_since = now
            self._freezes += 1
        else:
            ticket._paused_s = ticket.paused_s(now)
            ticket._frozen_since = None
            ticket._window = (now, ticket.cpu_s)
        if ticket.cgroup is None:
            return  # attach() applies it
        try:
            ticket.cgroup.set_frozen(frozen)
        except (SandboxError, OSError) as exc:  # the run is ending; its supervisor decides
            log.debug("cannot %s a run: %s", "freeze" if frozen else "thaw", exc)


def default_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1
