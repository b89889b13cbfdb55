"""The native launcher: a tiny C program that joins cgroups, sets rlimits,
drops to the sandbox uid and execs bubblewrap, or runs the program in a
session's prepared namespaces (``prepared.h``).

It is compiled from ``launcher.c`` and ``prepared.h`` on first use (cached by
the sources' hash)
so the supervisor can spawn with vfork; forking the Python process with a
``preexec_fn`` costs milliseconds per run, and is unsafe with threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from assay.errors import SandboxError, SandboxUnavailableError

log = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 120.0  # a 200-line C file; a compiler this slow is broken


SOURCES = ("launcher.c", "prepared.h")  # launcher.c includes prepared.h


def _sources() -> dict[str, bytes]:
    package = resources.files("assay.sandbox.native")
    return {name: package.joinpath(name).read_bytes() for name in SOURCES}


def build_launcher(bin_dir: Path) -> Path:
    """The compiled launcher, building it if needed."""
    sources = _sources()
    digest = hashlib.sha256(b"\0".join(sources[name] for name in SOURCES)).hexdigest()
    target = bin_dir / f"assay-launch-{digest[:12]}"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SandboxUnavailableError(
            "no C compiler to build the sandbox launcher", fix="apt-get install gcc libc6-dev"
        )
    bin_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", dir=bin_dir) as build_dir:
        for name, data in sources.items():
            (Path(build_dir) / name).write_bytes(data)
        _compile(compiler, Path(build_dir) / SOURCES[0], target)
    return target


def _compile(compiler: str, src: Path, target: Path) -> None:
    tmp = target.parent / f".{target.name}.{os.getpid()}"
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
