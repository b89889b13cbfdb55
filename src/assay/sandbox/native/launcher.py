"""The native launcher: a tiny C program that joins cgroups, sets rlimits,
drops to the sandbox uid and execs bubblewrap.

It is compiled from ``launcher.c`` on first use (cached by the source's hash)
so the supervisor can spawn with vfork; forking the Python process with a
``preexec_fn`` costs milliseconds per run, and is unsafe with threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from assay.errors import SandboxError, SandboxUnavailableError

log = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 120.0  # a 200-line C file; a compiler this slow is broken


def _source() -> bytes:
    return resources.files("assay.sandbox.native").joinpath("launcher.c").read_bytes()


def build_launcher(bin_dir: Path) -> Path:
    """The compiled launcher, building it if needed."""
    source = _source()
    target = bin_dir / f"assay-launch-{hashlib.sha256(source).hexdigest()[:12]}"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SandboxUnavailableError(
            "no C compiler to build the sandbox launcher", fix="apt-get install gcc libc6-dev"
        )
    bin_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    src = bin_dir / f"{target.name}.c"
    src.write_bytes(source)
    tmp = bin_dir / f".{target.name}.{os.getpid()}"
    try:
        proc = subprocess.run(
            [compiler, "-O2", "-Wall", "-Werror", "-o", str(tmp), str(src)],
            capture_output=True,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
            timeout=COMPILE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(
            f"compiling the launcher took over {COMPILE_TIMEOUT_S:.0f} s ({compiler})"
        ) from exc
    if proc.returncode != 0:
        raise SandboxError(f"cannot compile the launcher: {proc.stderr.decode(errors='replace')}")
    tmp.chmod(0o755)
    tmp.replace(target)
    return target
