"""Verdicts (shared by every backend) and command lines of Docker runs (pure logic)."""

from __future__ import annotations

import signal

import pytest

from assay.sandbox.docker.verdict import ENV, PRLIMIT, exec_argv, run_user
from assay.sandbox.result import Termination
from assay.sandbox.spec import Limits, RunSpec
from assay.sandbox.verdict import KillReason, RunFacts, decide


def facts(
    status: int = 0,
    killed_for: KillReason | None = None,
    oom: int = 0,
    cpu: float = 0.1,
    cpu_limit: float = 1.0,
) -> RunFacts:
    return RunFacts(status, killed_for, oom, cpu, cpu_limit)


@pytest.mark.parametrize(
    ("given", "termination", "exit_code", "sig"),
    [
        (facts(0), Termination.EXITED, 0, None),
        (facts(3), Termination.EXITED, 3, None),
        (facts(128), Termination.EXITED, 128, None),
        (facts(128 + 11), Termination.SIGNALED, None, 11),
        (facts(137), Termination.SIGNALED, None, 9),
        (facts(137, oom=1), Termination.MEMORY_LIMIT, None, 9),
        (facts(0, oom=1), Termination.MEMORY_LIMIT, 0, None),
        (facts(137, KillReason.WALL_TIME, oom=2), Termination.MEMORY_LIMIT, None, 9),
        (facts(137, KillReason.WALL_TIME), Termination.WALL_TIME_LIMIT, None, 9),
        (facts(137, KillReason.CPU_TIME), Termination.CPU_TIME_LIMIT, None, 9),
        (facts(137, KillReason.OUTPUT), Termination.OUTPUT_LIMIT, None, 9),
        (facts(0, KillReason.OUTPUT), Termination.OUTPUT_LIMIT, 0, None),
        (facts(137, KillReason.MEMORY), Termination.MEMORY_LIMIT, None, 9),
        (facts(128 + signal.SIGXCPU), Termination.CPU_TIME_LIMIT, None, signal.SIGXCPU),
        (facts(137, cpu=1.0, cpu_limit=1.0), Termination.CPU_TIME_LIMIT, None, 9),
        (facts(137, cpu=0.5, cpu_limit=1.0), Termination.SIGNALED, None, 9),
    ],
)
def test_decide(
    given: RunFacts, termination: Termination, exit_code: int | None, sig: int | None
) -> None:
    verdict = decide(given)
    assert (verdict.termination, verdict.exit_code, verdict.signal) == (termination, exit_code, sig)


def test_exec_argv_sets_exactly_the_environment_and_limits() -> None:
    limits = Limits(cpu_time_s=2.5, file_size_bytes=1000, open_files=64, stack_bytes=4096)
    spec = RunSpec(
        ("python3", "-c", "print(1)"), env={"A": "1", "-x": "=y"}, cwd="sub/dir", limits=limits
    )
    argv = exec_argv(spec)
    assert argv[:4] == [ENV, "-i", "--chdir=/work/sub/dir", "--"]
    assert argv[4:6] == ["A=1", "-x==y"]
    assert argv[6] == PRLIMIT
    rest = argv[7:]
    assert rest[rest.index("--") + 1 :] == ["python3", "-c", "print(1)"]
    assert "--cpu=3:4" in rest
    assert "--fsize=1000" in rest
    assert "--nofile=64" in rest
    assert "--stack=4096" in rest
    assert "--core=0" in rest


def test_exec_argv_defaults() -> None:
    argv = exec_argv(RunSpec(("true",), limits=Limits(cpu_time_s=0.2)))
    assert "--chdir=/work" in argv
    assert "--cpu=1:2" in argv
    assert argv[-2:] == ["--", "true"]


def test_run_user() -> None:
    assert run_user(RunSpec(("id",))) == "1000:1000"
    assert run_user(RunSpec(("id",), as_root=True)) == "0:0"
