"""Running an environment's probe in its built tree (``assay env check``).

The probe runs as the sandbox user with the tree as a read-only ``/``, no
network and a time limit (``inroot.probe_argv``). This checks the tree, not a
sandbox backend: the backends' own checks (``assay sandbox check``) do that.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from assay.errors import SandboxUnavailableError
from assay.sandbox.envs.inroot import probe_argv

PROBE_TIMEOUT_S = 60.0
MAX_OUTPUT_BYTES = 64 * 1024


def run_probe(
    rootfs: Path,
    probe: Sequence[str],
    env: Mapping[str, str],
    *,
    bwrap: str = "bwrap",
    timeout_s: float = PROBE_TIMEOUT_S,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``probe`` in ``rootfs``; its status and output (stderr merged, capped)."""
    argv = probe_argv(bwrap, rootfs, probe, env)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise SandboxUnavailableError(
            f"cannot run {bwrap}: {exc.strerror}", fix="apt-get install bubblewrap"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        output = (exc.output or b"")[:MAX_OUTPUT_BYTES] + b"\n(timed out)"
        return subprocess.CompletedProcess(argv, -9, output)
    return subprocess.CompletedProcess(argv, done.returncode, done.stdout[:MAX_OUTPUT_BYTES])
