"""``assay sandbox check`` for the native backend: prerequisites, then behaviour."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from assay.errors import AssayError
from assay.sandbox.base import BackendSession, CheckItem, CheckStatus, SandboxBackend
from assay.sandbox.environments import Environment
from assay.sandbox.native import seccomp
from assay.sandbox.native.cgroups import detect_driver
from assay.sandbox.native.statedir import unreachable_error
from assay.sandbox.probes import behaviour_checks

APPARMOR_USERNS = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
DEBIAN_USERNS = Path("/proc/sys/kernel/unprivileged_userns_clone")


def _ok(feature: str, detail: str) -> CheckItem:
    return CheckItem(feature, CheckStatus.OK, detail)


def _fail(feature: str, detail: str, fix: str) -> CheckItem:
    return CheckItem(feature, CheckStatus.FAIL, detail, fix)


def _userns_item(bwrap: str, uid: int) -> CheckItem:
    feature = "user namespaces (unprivileged)"

    def drop() -> None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    proc = subprocess.run(
        [bwrap, "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "true"],
        capture_output=True,
        env={},
        preexec_fn=drop if os.geteuid() == 0 else None,
        check=False,
        timeout=10,
    )
    if proc.returncode == 0:
        return _ok(feature, "bubblewrap can create them")
    detail = proc.stderr.decode(errors="replace").strip()
    if APPARMOR_USERNS.exists() and APPARMOR_USERNS.read_text().strip() == "1":
        return _fail(
            feature,
            f"AppArmor restricts unprivileged user namespaces: {detail}",
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or add an "
            "AppArmor profile allowing userns for /usr/bin/bwrap",
        )
    if DEBIAN_USERNS.exists() and DEBIAN_USERNS.read_text().strip() == "0":
        return _fail(feature, detail, "sysctl -w kernel.unprivileged_userns_clone=1")
    return _fail(feature, detail, "sysctl -w user.max_user_namespaces=10000")


def _state_dir_item(state_dir: Path, uid: int, gid: int) -> CheckItem:
    feature = "state directory (reachable by the sandbox user)"
    error = unreachable_error(state_dir, uid, gid)
    if error is None:
        return _ok(feature, str(state_dir))
    return _fail(feature, error.message, error.fix or "")


def prerequisite_checks(
    backend: SandboxBackend,
    bwrap: str | None,
    uid: int,
    cgroup_parent: str | None,
    *,
    gid: int | None = None,
    state_dir: Path | None = None,
) -> list[CheckItem]:
    items: list[CheckItem] = []
    if os.geteuid() == 0:
        items.append(_ok("root privileges", "running as root"))
    else:
        items.append(_fail("root privileges", "not root", "run as root, or use --backend docker"))
    if bwrap is None:
        items.append(_fail("bubblewrap", "not installed", "apt-get install bubblewrap"))
    else:
        version = (
            subprocess.run([bwrap, "--version"], capture_output=True, check=False, env={})
            .stdout.decode()
            .strip()
        )
        items.append(_ok("bubblewrap", version))
        items.append(_userns_item(bwrap, uid))
    if state_dir is not None:
        items.append(_state_dir_item(state_dir, uid, uid if gid is None else gid))
    try:
        driver = detect_driver(cgroup_parent)
        items.append(_ok("cgroups (memory, pids, cpu)", f"cgroup v{driver.version}"))
    except AssayError as exc:
        items.append(
            _fail(
                "cgroups (memory, pids, cpu)",
                exc.message,
                getattr(exc, "fix", "") or "enable cgroups",
            )
        )
    try:
        size = len(seccomp.filter_bpf())
        items.append(_ok("seccomp (libseccomp)", f"filter of {size // 8} instructions"))
    except AssayError as exc:
        items.append(_fail("seccomp (libseccomp)", exc.message, "apt-get install libseccomp2"))
    return items


def native_checks(
    backend: SandboxBackend,
    environment: Environment | None,
    *,
    bwrap: str | None,
    uid: int,
    cgroup_parent: str | None,
    gid: int | None = None,
    state_dir: Path | None = None,
) -> list[CheckItem]:
    items = prerequisite_checks(backend, bwrap, uid, cgroup_parent, gid=gid, state_dir=state_dir)
    if any(item.status is CheckStatus.FAIL for item in items):
        return items

    def survivors(_: BackendSession, token: str) -> str | None:
        marker = token.encode()
        left = [
            p.name for p in Path("/proc").iterdir() if p.name.isdigit() and marker in _cmdline(p)
        ]
        return f"processes left: {', '.join(left)}" if left else None

    return items + behaviour_checks(backend, environment, after_run=survivors)


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""
