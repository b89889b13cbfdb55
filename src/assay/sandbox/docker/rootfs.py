"""Building Debian root filesystems for the sandbox images, on the host.

A minimal ``debootstrap`` tree (the base) is built once and cached; each
toolchain tree is a copy of it with more packages installed in a chroot.
Every command's output is kept so a failure can say what went wrong.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from assay.errors import ImageBuildError
from assay.sandbox.docker.constants import SANDBOX_UID, SANDBOX_USER, WORKSPACE_DIR
from assay.sandbox.envs import aptsources, platform
from assay.sandbox.envs.aptsources import AptSource

SUITE = aptsources.SUITE
BASE_PACKAGES = platform.PLATFORM_PACKAGES

logger = logging.getLogger(__name__)


_ERROR_TAIL_LINES = 40
_CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "DEBIAN_FRONTEND": "noninteractive",
}

LineCallback = Callable[[str], None]


def run_command(
    argv: Sequence[str], on_line: LineCallback | None = None, env: dict[str, str] | None = None
) -> None:
    """Run a build command, streaming its output lines; raise ``ImageBuildError`` on failure."""
    tail: deque[str] = deque(maxlen=_ERROR_TAIL_LINES)
    logger.debug("running %s", " ".join(argv))
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env if env is not None else _CHROOT_ENV,
        )
    except OSError as exc:
        raise ImageBuildError(f"cannot run {argv[0]}: {exc}") from exc
    if proc.stdout is None:
        raise ImageBuildError(f"{argv[0]} has no output pipe")
    with proc:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                tail.append(line)
                if on_line is not None:
                    on_line(line)
    if proc.returncode != 0:
        output = "\n".join(tail)
        raise ImageBuildError(
            f"command failed with status {proc.returncode}: {' '.join(argv)}\n{output}"
        )


def debootstrap(target: Path, mirror: str, deb_cache: Path, on_line: LineCallback) -> None:
    """A minbase Debian tree at ``target`` with ``BASE_PACKAGES`` and the sandbox user."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed; run: apt-get install debootstrap")
    deb_cache.mkdir(parents=True, exist_ok=True)
    run_command(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            f"--cache-dir={deb_cache}",
            SUITE,
            str(target),
            mirror,
        ],
        on_line,
    )
    (target / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
    (target / "usr/sbin/policy-rc.d").chmod(0o755)
    uid = str(SANDBOX_UID)
    run_command(["chroot", str(target), "groupadd", "-g", uid, SANDBOX_USER], on_line)
    run_command(
        [
            "chroot",
            str(target),
            "useradd",
            "-u",
            uid,
            "-g",
            uid,
            "-M",
            "-d",
            WORKSPACE_DIR,
            "-s",
            "/bin/sh",
            SANDBOX_USER,
        ],
        on_line,
    )
    # Docker copies this directory's mode onto the tmpfs mounted over it: 1777, root's,
    # so that both the sandbox user and the sandbox's root (for read-only files) can add.
    work = target / WORKSPACE_DIR.lstrip("/")
    work.mkdir(exist_ok=True)
    os.chown(work, 0, 0)
    work.chmod(0o1777)


@contextmanager
def _chroot_ready(target: Path) -> Iterator[None]:
    """/proc mounted and DNS configured for the duration of package installs."""
    shutil.copyfile("/etc/resolv.conf", target / "etc/resolv.conf")
    proc = target / "proc"
    run_command(["mount", "-t", "proc", "proc", str(proc)])
    try:
        yield
    finally:
        run_command(["umount", "-l", str(proc)])
        (target / "etc/resolv.conf").write_text("", encoding="utf-8")


def install_packages(
    target: Path, packages: Sequence[str], sources: Sequence[AptSource], on_line: LineCallback
) -> None:
    """``apt-get install`` inside the tree at ``target``."""
    if sources:
        text = "".join(f"{s.line()}\n" for s in sources)
        (target / "etc/apt/sources.list").write_text(text, encoding="utf-8")
    chroot = ["chroot", str(target)]
    with _chroot_ready(target):
        run_command([*chroot, "apt-get", "update"], on_line)
        run_command(
            [*chroot, "apt-get", "install", "-y", "--no-install-recommends", *packages], on_line
        )


def finish(target: Path, on_line: LineCallback) -> None:
    """Drop caches and logs, and remove setuid/setgid bits (defence in depth)."""
    run_command(["chroot", str(target), "apt-get", "clean"], on_line)
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/log/*.log",
        "var/log/apt/*",
        "tmp/*",
        "root/.cache",
    ):
        for path in target.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    run_command(
        [
            "find",
            str(target),
            "-xdev",
            "-type",
            "f",
            "-perm",
            "/6000",
            "-exec",
            "chmod",
            "ug-s",
            "{}",
            "+",
        ],
        on_line,
    )


def copy_tree(source: Path, target: Path, on_line: LineCallback) -> None:
    """A full copy (owners, modes, devices, links) of ``source`` at ``target``."""
    run_command(["cp", "-a", "--reflink=auto", f"{source}/.", str(target)], on_line)


def new_work_dir(cache: Path, key: str) -> Path:
    """An empty directory next to the cache entry, for building it."""
    cache.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))


def remove_tree(path: Path) -> None:
    """Remove a build tree, never descending into a still-mounted /proc."""
    proc = path / "proc"
    if os.path.ismount(proc):
        subprocess.run(["umount", "-l", str(proc)], check=False, capture_output=True)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
