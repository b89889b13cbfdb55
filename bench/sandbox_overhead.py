"""Sandbox overhead: the same trivial Python program bare, native and docker.

Prints p50/p90 wall time per mode and the overhead over the bare program
measured in the same run (milliseconds and ratio), the modes interleaved
(these machines are noisy: compare within a run). Two sandbox modes: runs 2..n
of one session (its first run is made before timing starts) and a fresh
sandbox per run (open, one run, close),
then runs 100 sandboxed runs concurrently and reports throughput.

A last phase per backend compares a custom environment (``--custom``: a spec,
by default examples/environments/tools, built first if it is not in the store)
with the built-in python3, interleaved: the difference of their p50s is what a
run pays for being in a course's own environment (the goal: under 1 ms).

    .venv/bin/python bench/sandbox_overhead.py [--runs 50] [--concurrent 100]
        [--custom examples/environments/tools]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from assay.errors import AssayError
from assay.sandbox import Sandbox
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.envs.spec import load_spec

PROGRAM = ("python3", "-S", "-c", "print(6 * 7)")
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return statistics.median(ordered), p90


def measure(
    modes: dict[str, Callable[[], None]], runs: int, warmup: int = 3
) -> dict[str, list[float]]:
    """Time each mode ``runs`` times, interleaved (bare, native, docker, bare, ...)
    so that the machine's drifts and bursts of noise hit every mode alike."""
    for run_once in modes.values():
        for _ in range(warmup):
            run_once()
    samples: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(runs):
        for name, run_once in modes.items():
            start = time.perf_counter()
            run_once()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def bare() -> None:
    out = subprocess.run(PROGRAM, capture_output=True, env=ENV, check=True).stdout
    assert out == b"42\n"


def in_session(box: Sandbox) -> Callable[[], None]:
    def run_once() -> None:
        result = box.run(PROGRAM, env=ENV)
        assert result.ok and result.stdout == b"42\n", result

    return run_once


def fresh_sandbox(backend: str, environment: Environment | str = "python3") -> Callable[[], None]:
    def run_once() -> None:
        with Sandbox(environment, backend=backend) as box:
            result = box.run(PROGRAM, env=ENV)
        assert result.ok and result.stdout == b"42\n", result

    return run_once


def concurrent(backend: str, count: int) -> tuple[float, int]:
    def one(_: int) -> bool:
        with Sandbox("python3", backend=backend) as box:
            return box.run(PROGRAM, env=ENV).ok

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        ok = sum(pool.map(one, range(count)))
    return time.perf_counter() - start, ok


def report(samples: dict[str, list[float]], baseline: str = "bare") -> None:
    """One line per mode: p50, p90, and the p50's difference and ratio to the first mode."""
    rows = list(samples.items())
    base_p50, _ = percentiles(rows[0][1])
    for name, values in rows:
        p50, p90 = percentiles(values)
        print(f"{name:42} {p50:8.2f} {p90:8.2f} {p50 - base_p50:16.2f} {p50 / base_p50:6.2f}"
              + ("" if name == rows[0][0] else f"   (vs {baseline})"))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--backends", default="native,docker")
    parser.add_argument("--custom", type=Path, default=Path("examples/environments/tools"))
    args = parser.parse_args()
    custom = Environment.from_source(load_spec(args.custom))

    backends = [b for b in args.backends.split(",") if b]
    print(f"program: {' '.join(PROGRAM)}   runs per mode: {args.runs}")
    print(f"{'mode':42} {'p50 ms':>8} {'p90 ms':>8} {'p50 overhead ms':>16} {'ratio':>6}")
    available = []
    for backend in backends:
        # One phase per backend and mode, each with its own interleaved bare
        # baseline, so background work (Docker's container starts and removals
        # after a fresh sandbox) is not counted against another mode.
        with ExitStack() as stack:
            try:
                box = stack.enter_context(Sandbox("python3", backend=backend))
                box.run(PROGRAM, env=ENV)
            except AssayError as exc:
                print(f"{backend}: unavailable: {exc.message}", file=sys.stderr)
                continue
            available.append(backend)
            phases: list[dict[str, Callable[[], None]]] = [
                {"bare (baseline)": bare, f"{backend} (runs 2..n of a session)": in_session(box)},
                {
                    "bare (baseline)": bare,
                    f"{backend} (fresh sandbox per run)": fresh_sandbox(backend),
                },
            ]
            for modes in phases:
                report(measure(modes, args.runs))
            own = stack.enter_context(Sandbox(custom, backend=backend))  # built here if need be
            own.run(PROGRAM, env=ENV)
            builtin = get_environment("python3")
            print(f"{backend}: custom environment {custom.name} ({custom.key[:12]}) vs python3")
            for modes in (
                {f"{backend} python3 (runs 2..n)": in_session(box),
                 f"{backend} {custom.name} (runs 2..n)": in_session(own)},
                {f"{backend} python3 (fresh sandbox)": fresh_sandbox(backend, builtin),
                 f"{backend} {custom.name} (fresh sandbox)": fresh_sandbox(backend, custom)},
            ):  # fmt: skip
                report(measure(modes, args.runs), baseline="built-in")
    for backend in available:
        try:
            elapsed, ok = concurrent(backend, args.concurrent)
        except AssayError as exc:
            print(f"{backend}: concurrent runs failed: {exc.message}", file=sys.stderr)
            continue
        print(
            f"{backend}: {args.concurrent} concurrent sandboxed runs in {elapsed:.2f} s "
            f"= {args.concurrent / elapsed:.1f} runs/s ({ok} ok)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
