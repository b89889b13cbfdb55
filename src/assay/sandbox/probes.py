"""Behaviour probes: isolation features tried for real inside a sandbox.

Shared by every backend's ``check()``: a feature counts as enforced only if
a program inside the sandbox fails to get around it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from assay.errors import AssayError
from assay.sandbox.base import BackendSession, CheckItem, CheckStatus, SandboxBackend, SessionConfig
from assay.sandbox.environments import Environment, get_environment
from assay.sandbox.result import RunResult, Termination
from assay.sandbox.spec import MIB, Limits, RunSpec

ENV_PROBE_TIME_S = 60.0
SUMMED_CPU_RATIO = 1.5  # two busy processes stopped at the summed limit, not at 2x
PROBE_LIMITS = Limits(
    cpu_time_s=2,
    wall_time_s=5,
    memory_bytes=64 * MIB,
    pids=32,
    output_bytes=64 * 1024,
    workspace_bytes=8 * MIB,
)

# Each probe prints "ok" when the feature holds, anything else when it does not.
STATUS_PROBE = r"""
import os
def listing(path):
    try:
        return os.listdir(path)
    except OSError:
        return []
def hostly():
    # The root is the environment's tree: anything of the host's (its state
    # directory, users' homes, root's keys, daemons' sockets) must be absent.
    if any(os.path.exists(p) for p in ("/var/lib/assay", "/root/.ssh", "/var/run/docker.sock")):
        return True
    return bool(listing("/home")) or bool(set(listing("/run")) - {"lock"})
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
checks = {
  "caps": int(status["CapEff"].strip(), 16) == 0,
  "nnp": status["NoNewPrivs"].strip() == "1",
  "seccomp": status["Seccomp"].strip() == "2",
  "uid": os.getuid() != 0,
  "pidns": len([p for p in os.listdir("/proc") if p.isdigit()]) < 10,
  "hostfiles": not hostly(),
}
try:
    open("/usr/assay-probe", "w")
    checks["rofs"] = False
except OSError:
    checks["rofs"] = True
ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
checks["net"] = ifaces in ([], ["lo"])
import ctypes
checks["unshare"] = ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0
print(" ".join(f"{k}={'ok' if v else 'no'}" for k, v in checks.items()))
"""

STATUS_FEATURES = {
    "caps": ("no capabilities (CapEff 0)", ""),
    "nnp": ("no_new_privs", ""),
    "seccomp": ("seccomp filter", "apt-get install libseccomp2"),
    "uid": ("unprivileged user", ""),
    "pidns": ("private /proc (pid namespace)", ""),
    "hostfiles": ("host files hidden", ""),
    "rofs": ("read-only system", ""),
    "net": ("no network", ""),
    "unshare": ("namespace creation refused", ""),
}


@dataclass(frozen=True)
class VerdictProbe:
    feature: str
    argv: tuple[str, ...]
    expect: Termination
    limits: Limits = PROBE_LIMITS


VERDICT_PROBES = (
    VerdictProbe(
        "memory limit (no swap)",
        ("python3", "-c", "b = bytearray(256 * 1024 * 1024); print(len(b))"),
        Termination.MEMORY_LIMIT,
    ),
    VerdictProbe(
        "CPU time limit (summed over processes)",
        # Two busy processes: stopped when their summed CPU time reaches the
        # limit (checked below), whatever the machine's load.
        ("sh", "-c", "while :; do :; done & while :; do :; done & wait"),
        Termination.CPU_TIME_LIMIT,
        PROBE_LIMITS.replace(cpu_time_s=1.0),
    ),
    VerdictProbe(
        "wall time limit",
        ("sleep", "30"),
        Termination.WALL_TIME_LIMIT,
        PROBE_LIMITS.replace(wall_time_s=0.5),
    ),
    VerdictProbe(
        "output limit", ("python3", "-c", "while True: print('x' * 1000)"), Termination.OUTPUT_LIMIT
    ),
)

PIDS_PROBE = (
    "python3",
    "-c",
    "import os\nn = 0\ntry:\n    for _ in range(200):\n        if os.fork() == 0:\n"
    "            import time; time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError:\n"
    "    print('ok', n)\nelse:\n    print('no', n)\n",
)
DISK_PROBE = (
    "python3",
    "-c",
    "try:\n    open('big', 'wb').write(b'x' * (32 * 1024 * 1024))\n    print('no')\n"
    "except OSError as e:\n    print('ok' if e.errno == 28 else e)\n",
)


def orphan_probe(token: str) -> tuple[str, ...]:
    """A daemonised ``sleep`` whose command line carries ``token``, left behind on exit."""
    return ("sh", "-c", f"setsid sleep {token} > /dev/null 2>&1 < /dev/null & echo started")


def _row(feature: str, ok: bool, detail: str, fix: str = "") -> CheckItem:
    return CheckItem(feature, CheckStatus.OK if ok else CheckStatus.FAIL, detail, "" if ok else fix)


def environment_probe(backend: SandboxBackend, environment: Environment) -> CheckItem:
    """The environment's own probe (a real program compiled and run) in a sandbox of
    its own with the environment's limits (at least ``ENV_PROBE_TIME_S`` of CPU and
    wall time: compilers such as kotlinc and ghc start slowly)."""
    base = environment.default_limits
    limits = base.replace(
        cpu_time_s=max(base.cpu_time_s, ENV_PROBE_TIME_S),
        wall_time_s=max(base.wall_time_s, 2 * ENV_PROBE_TIME_S),
    )
    feature = f"{environment.name} environment's probe"
    fix = f"assay env check {environment.name}"
    try:
        session = backend.open_session(SessionConfig(environment, limits))
        try:
            result = session.run(RunSpec(environment.probe, dict(environment.env), limits=limits))
        finally:
            session.close()
    except AssayError as exc:
        return _row(feature, False, exc.message, fix)
    if result.ok:
        return _row(feature, True, f"passed in {result.wall_time_s:.1f} s")
    output = (result.stdout + result.stderr)[-300:].decode(errors="replace").strip()
    return _row(
        feature, False, f"{result.termination.value}, exit {result.exit_code}: {output}", fix
    )


def behaviour_checks(
    backend: SandboxBackend,
    environment: Environment | None = None,
    after_run: Callable[[BackendSession, str], str | None] | None = None,
) -> list[CheckItem]:
    """Open a sandbox and try each feature.

    ``after_run(session, token)`` looks for processes whose command line holds
    ``token`` after a run that left a daemonised child behind; it returns a
    description of the survivors, or None when nothing survived.
    """
    env = environment or get_environment("python3")
    items: list[CheckItem] = []
    try:
        session = backend.open_session(SessionConfig(env, PROBE_LIMITS))
    except AssayError as exc:
        return [
            CheckItem(
                "open a sandbox", CheckStatus.FAIL, exc.message, getattr(exc, "fix", "") or ""
            )
        ]
    try:

        def run(argv: tuple[str, ...], limits: Limits = PROBE_LIMITS) -> RunResult:
            return session.run(RunSpec(argv, dict(env.env), limits=limits))

        result = run(("python3", "-c", STATUS_PROBE))
        found = dict(
            w.split("=", 1) for w in result.stdout.decode(errors="replace").split() if "=" in w
        )
        for key, (feature, fix) in STATUS_FEATURES.items():
            items.append(
                _row(
                    feature,
                    found.get(key) == "ok",
                    "enforced"
                    if found.get(key) == "ok"
                    else f"not enforced ({result.stderr[-200:].decode(errors='replace')})",
                    fix,
                )
            )
        for probe in VERDICT_PROBES:
            result = run(probe.argv, probe.limits)
            ok = result.termination is probe.expect
            detail = f"verdict {result.termination.value}"
            if ok and probe.expect is Termination.CPU_TIME_LIMIT:
                # Stopped near the limit in total: per-process limits alone would
                # have let each of the two processes use it up (twice as much).
                ok = result.cpu_time_s < SUMMED_CPU_RATIO * probe.limits.cpu_time_s
                detail += f" after {result.cpu_time_s:.2f} s of CPU in all"
            items.append(_row(probe.feature, ok, detail))
        result = run(PIDS_PROBE)
        items.append(
            _row(
                "process limit (pids)",
                result.stdout.startswith(b"ok"),
                result.stdout.decode(errors="replace").strip(),
            )
        )
        result = run(DISK_PROBE)
        items.append(
            _row(
                "workspace size limit",
                result.stdout.startswith(b"ok"),
                "ENOSPC inside"
                if result.stdout.startswith(b"ok")
                else result.stdout.decode(errors="replace").strip(),
            )
        )
        token = f"60.{secrets.randbelow(10**9):09d}"
        run(orphan_probe(token))
        survivor = after_run(session, token) if after_run else None
        items.append(
            _row(
                "whole process tree killed",
                survivor is None,
                survivor or "daemonised child killed with the run",
            )
        )
    except AssayError as exc:
        items.append(CheckItem("run a probe", CheckStatus.FAIL, exc.message))
    finally:
        session.close()
    items.append(environment_probe(backend, env))
    return items
