"""The builder: a Debian tree from a ``BuildPlan``.

Steps, each logged (``BuildLog``):

1. the base: ``mmdebstrap`` (or ``debootstrap`` when mmdebstrap is missing)
   makes a minbase tree of the suite with the platform packages and the spec's
   apt packages in one resolution; a derived environment is a copy of its base's
   tree (``cp -a --reflink=auto``) followed by ``apt-get install`` in it;
2. the platform layer: the sandbox user (uid 1000), ``/work`` (1777), apt
   sources, no recommends, no daemons started (``policy-rc.d``);
3. pip packages (a venv at ``PIP_VENV`` or the system interpreter);
4. files, then the setup script (as root, with a timeout);
5. cleaning (apt lists and caches, logs, /tmp) and a sanity pass on the host:
   setuid and setgid bits stripped, device nodes, fifos and sockets removed,
   each one named in the log.

Everything that runs in the tree runs under bubblewrap with the tree as ``/``,
in a user namespace of its own (``inroot.build_argv``); apt, pip and the setup
script in a network namespace of their own each, with the internet through
slirp4netns and nothing of the host's (``buildnet``). The host never writes into
the tree through a path the tree's own symlinks could redirect. The bootstrap
tool runs as the host's root in a private mount namespace (only Debian's
packages run there, from the host's mirror), so no mount it makes outlives it.
The .deb cache is shared with ``assay image build``; one build uses it at a time
(a lock in it).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from assay.errors import EnvironmentBuildError
from assay.sandbox.envs import aptsources as debian_sources
from assay.sandbox.envs import buildnet
from assay.sandbox.envs.buildlog import BuildLog, CommandFailed
from assay.sandbox.envs.inroot import CA_PATH, Bind, build_argv, build_env
from assay.sandbox.envs.plan import BuildPlan
from assay.sandbox.envs.platform import PLATFORM_PACKAGES, SANDBOX_UID, SANDBOX_USER, WORKSPACE_DIR
from assay.sandbox.envs.spec import PIP_VENV, PipTarget

STAGE = "/run/assay-build"
"""Where build inputs are bound in the tree during a build (removed afterwards)."""
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
SECURITY_MIRROR = "http://deb.debian.org/debian-security"

_MISSING_PACKAGE = (
    re.compile(r"E: Unable to locate package (\S+)"),
    re.compile(r"E: Package '([^']+)' has no installation candidate"),
    re.compile(r"E: Version '[^']+' for '([^']+)' was not found"),
    re.compile(r"E: Couldn't find these debs: (.+)"),
)
_MISSING_PIP = re.compile(r"No matching distribution found for (\S+)")


@dataclass(frozen=True)
class DebianBuilder:
    """Builds trees with mmdebstrap or debootstrap, apt, pip and bubblewrap (as root)."""

    deb_cache: Path | None = None
    bwrap: str = "bwrap"
    mirror: str | None = None
    ca_bundle: Path | None = DEFAULT_CA_BUNDLE
    nice: int | None = 19
    """Builds run at this niceness and the idle I/O class; None: as the caller."""
    tool: str = "auto"
    """``mmdebstrap``, ``debootstrap`` or ``auto`` (mmdebstrap when installed)."""
    step_timeout_s: float = 3600.0
    """Any step but the setup script (which has the spec's own timeout) is killed after this."""

    @property
    def name(self) -> str:
        return self._tool()

    def _tool(self) -> str:
        if self.tool != "auto":
            return self.tool
        return "mmdebstrap" if shutil.which("mmdebstrap") else "debootstrap"

    def missing_tools(self) -> list[str]:
        """What this host lacks to build (empty: ready)."""
        tools = (self._tool(), self.bwrap, *buildnet.TOOLS)
        missing = [t for t in tools if shutil.which(t) is None]
        if os.geteuid() != 0:
            missing.append("root (builds run mmdebstrap --mode=root and bubblewrap as root)")
        return missing

    def build(self, plan: BuildPlan, target: Path, log: BuildLog, base_rootfs: Path | None) -> None:
        """Make the tree of ``plan`` at ``target`` (an empty or absent directory)."""
        missing = self.missing_tools()
        if missing:
            raise EnvironmentBuildError(
                f"cannot build environments on this host: missing {', '.join(missing)}",
                fix="run scripts/setup.sh as root (it installs mmdebstrap and slirp4netns)",
            )
        target.mkdir(exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=target.parent))
        try:
            with self._deb_cache_lock(log):
                if plan.base is None:
                    self._bootstrap(plan, target, log)
                    self._platform(plan, target, log)
                else:
                    self._copy_base(plan, target, log, base_rootfs)
                if plan.pip:
                    self._pip(plan, target, log)
                if plan.files:
                    self._files(plan, target, stage, log)
                if plan.setup is not None:
                    self._setup(plan, target, stage, log)
                self._clean(target, log)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        sanitize(target, log)

    # --- steps ----------------------------------------------------------------------

    def _bootstrap(self, plan: BuildPlan, target: Path, log: BuildLog) -> None:
        packages = sorted({*PLATFORM_PACKAGES, *plan.apt})
        tool = self._tool()
        log.step(f"{tool} {plan.suite} minbase + {len(packages)} packages: {' '.join(packages)}")
        lines = self._sources(plan.suite)
        if tool == "mmdebstrap":
            argv = [
                "unshare", "--mount", "--propagation", "private",
                "mmdebstrap", "--mode=root", "--variant=minbase",
                f"--include={','.join(packages)}",
                "--aptopt=APT::Install-Recommends \"false\"",
            ]  # fmt: skip
            if MERGED_USR_HOOKS.is_dir():  # merged /usr by symlinks, as debootstrap does;
                argv.append(f"--hook-dir={MERGED_USR_HOOKS}")  # else usrmerge pulls in perl
            if self.deb_cache is not None:
                archives = '"$1"/var/cache/apt/archives'
                argv += [
                    "--skip=essential/unlink",
                    f"--setup-hook=mkdir -p {archives} && mount --bind {self.deb_cache} {archives}",
                    f"--customize-hook=umount {archives}",
                ]
            argv += [plan.suite, str(target), *lines]
        else:
            argv = [
                "unshare", "--mount", "--propagation", "private",
                "debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
            ]  # fmt: skip
            if self.deb_cache is not None:
                argv.append(f"--cache-dir={self.deb_cache}")
            argv += [plan.suite, str(target), self._mirror()]
        try:
            log.run(self._prefix(argv), what=tool, timeout_s=self.step_timeout_s)
        except CommandFailed as exc:
            raise _apt_error(exc, plan.suite) from None

    def _copy_base(
        self, plan: BuildPlan, target: Path, log: BuildLog, base_rootfs: Path | None
    ) -> None:
        if plan.base is None or base_rootfs is None:
            raise EnvironmentBuildError(f"the base of {plan.name} is not built")
        log.step(f"copying the base environment {plan.base.name}")
        copy = ["cp", "-a", "--reflink=auto", f"{base_rootfs}/.", str(target)]
        log.run(self._prefix(copy), what="copying the base", timeout_s=self.step_timeout_s)
        if plan.apt:
            self._apt(plan, target, log)

    def _platform(self, plan: BuildPlan, target: Path, log: BuildLog) -> None:
        log.step(f"platform layer: user {SANDBOX_USER}, {WORKSPACE_DIR}, apt sources")
        uid = str(SANDBOX_UID)
        sources = "\n".join(self._sources(plan.suite))
        script = f"""set -eu
getent group {uid} >/dev/null || groupadd -g {uid} {SANDBOX_USER}
getent passwd {uid} >/dev/null || useradd -u {uid} -g {uid} -M -d {WORKSPACE_DIR} \\
    -s /bin/sh {SANDBOX_USER}
mkdir -p {WORKSPACE_DIR} && chown 0:0 {WORKSPACE_DIR} && chmod 1777 {WORKSPACE_DIR}
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
printf '%s\\n' "$1" > /etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*
printf 'APT::Install-Recommends "false";\\n' > /etc/apt/apt.conf.d/99assay
"""
        self._in_tree(target, ["sh", "-c", script, "sh", sources], log, what="the platform layer")

    def _apt(self, plan: BuildPlan, target: Path, log: BuildLog) -> None:
        log.step(f"apt-get install {' '.join(plan.apt)}")
        script = 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@"'
        try:
            self._in_tree(target, ["sh", "-c", script, "sh", *plan.apt], log, what="apt-get",
                          network=True, debs=True)  # fmt: skip
        except CommandFailed as exc:
            raise _apt_error(exc, plan.suite) from None

    def _pip(self, plan: BuildPlan, target: Path, log: BuildLog) -> None:
        where = PIP_VENV if plan.pip_target is PipTarget.VENV else "the system interpreter"
        log.step(f"pip install {' '.join(plan.pip)} into {where}")
        if plan.pip_target is PipTarget.VENV:
            script = (
                f"[ -x {PIP_VENV}/bin/python ] || python3 -m venv {PIP_VENV}\n"
                f'exec {PIP_VENV}/bin/python -m pip install "$@"'
            )
        else:
            script = 'exec python3 -m pip install --break-system-packages "$@"'
        try:
            self._in_tree(target, ["sh", "-c", script, "sh", *plan.pip], log, what="pip install",
                          network=True)  # fmt: skip
        except CommandFailed as exc:
            found = next((m for line in exc.tail if (m := _MISSING_PIP.search(line))), None)
            if found is None:
                raise
            raise EnvironmentBuildError(
                f"pip package {found.group(1)} was not found on the package index "
                f"(pip: {found.group(0)})"
            ) from None

    def _files(self, plan: BuildPlan, target: Path, stage: Path, log: BuildLog) -> None:
        log.step(f"adding {len(plan.files)} file(s)")
        files = stage / "files"
        files.mkdir()
        args: list[str] = []
        for number, entry in enumerate(plan.files):
            (files / str(number)).write_bytes(entry.data)
            args += [str(number), f"{entry.mode:o}", entry.path]
        script = (
            'while [ "$#" -gt 0 ]; do\n'
            f'  install -D -o 0 -g 0 -m "$2" "{STAGE}/files/$1" "$3" && echo "added $3"\n'
            "  shift 3\ndone"
        )
        self._in_tree(target, ["sh", "-c", script, "sh", *args], log, what="adding files",
                      binds=[Bind(files, f"{STAGE}/files")])  # fmt: skip

    def _setup(self, plan: BuildPlan, target: Path, stage: Path, log: BuildLog) -> None:
        timeout = plan.source.spec.setup_timeout_s
        log.step(f"setup script {plan.source.spec.setup} (as root, at most {timeout:.0f} s)")
        script = stage / "setup"
        script.write_bytes(plan.setup or b"")
        script.chmod(0o755)
        inside = f"{STAGE}/setup"
        argv = [inside] if (plan.setup or b"").startswith(b"#!") else ["bash", inside]
        self._in_tree(target, argv, log, what="the setup script", network=True, debs=True,
                      binds=[Bind(script, inside)], timeout_s=timeout)  # fmt: skip

    def _clean(self, target: Path, log: BuildLog) -> None:
        log.step("cleaning caches, lists and logs")
        script = """apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/*.log \
    /var/log/apt/* /tmp/* /tmp/.[!.]* /var/tmp/* /root/.cache
: > /etc/resolv.conf
echo sandbox > /etc/hostname
printf '127.0.0.1 localhost\n::1 localhost\n127.0.1.1 sandbox\n' > /etc/hosts
true"""
        self._in_tree(target, ["sh", "-c", script], log, what="cleaning")
        stage = target / STAGE.lstrip("/")
        if _real_directory(target / "run") and _real_directory(stage):
            shutil.rmtree(stage)

    # --- helpers --------------------------------------------------------------------

    def _in_tree(
        self,
        target: Path,
        argv: Sequence[str],
        log: BuildLog,
        *,
        what: str,
        network: bool = False,
        debs: bool = False,
        binds: Sequence[Bind] = (),
        timeout_s: float | None = None,
    ) -> None:
        mounts = list(binds)
        ca = bool(network and self.ca_bundle is not None and self.ca_bundle.is_file())
        if ca and self.ca_bundle is not None:
            mounts.append(Bind(self.ca_bundle, CA_PATH))
        if debs and self.deb_cache is not None:
            mounts.append(Bind(self.deb_cache, "/var/cache/apt/archives", read_only=False))
        env = build_env({}, ca_bundle=ca)
        timeout = timeout_s or self.step_timeout_s
        if not network:
            line = build_argv(self.bwrap, target, argv, env=env, binds=mounts, network=False)
            log.run(self._prefix(line), what=what, timeout_s=timeout)
            return
        with buildnet.confined_network() as net:
            mounts.append(Bind(net.resolv_conf, "/etc/resolv.conf"))
            line = build_argv(self.bwrap, target, argv, env=env, binds=mounts, network=True)
            log.run(self._prefix(net.enter(line)), what=what, timeout_s=timeout)

    def _prefix(self, argv: Sequence[str]) -> list[str]:
        if self.nice is None:
            return list(argv)
        return ["nice", "-n", str(self.nice), "ionice", "-c3", *argv]

    def _mirror(self) -> str:
        return self.mirror or debian_sources.main_mirror(debian_sources.host_apt_sources())

    def _sources(self, suite: str) -> list[str]:
        """``deb`` lines for ``suite``: the host's own when it runs that suite."""
        if suite == debian_sources.SUITE and self.mirror is None:
            host = [s.line() for s in debian_sources.host_apt_sources()]
            if host:
                return host
        mirror = self._mirror()
        return [
            f"deb {mirror} {suite} main",
            f"deb {mirror} {suite}-updates main",
            f"deb {SECURITY_MIRROR} {suite}-security main",
        ]

    @contextmanager
    def _deb_cache_lock(self, log: BuildLog) -> Iterator[None]:
        if self.deb_cache is None:
            yield
            return
        self.deb_cache.mkdir(parents=True, exist_ok=True)
        with (self.deb_cache / ".assay-env.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.step(f"waiting for another build using {self.deb_cache}")
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _apt_error(exc: CommandFailed, suite: str) -> EnvironmentBuildError:
    """Name the missing package when apt said which one it was."""
    for line in exc.tail:
        for pattern in _MISSING_PACKAGE:
            found = pattern.search(line)
            if found:
                return EnvironmentBuildError(
                    f"Debian package {found.group(1)} is not in {suite} (apt: {found.group(0)})",
                    fix="check the name at https://packages.debian.org",
                )
    return exc


def _real_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def sanitize(root: Path, log: BuildLog) -> None:
    """Strip setuid/setgid bits and remove device nodes, fifos and sockets; log each."""
    log.step("sanity pass: setuid/setgid bits, device nodes")
    stripped = removed = 0
    for directory, _dirs, names in os.walk(root):  # never follows a symlink
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            shown = "/" + os.path.relpath(path, root)
            if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_ISUID | stat.S_ISGID):
                mode = stat.S_IMODE(info.st_mode)
                os.chmod(path, mode & ~(stat.S_ISUID | stat.S_ISGID))
                log.note(f"stripped setuid/setgid: {shown} ({mode:04o} -> "
                         f"{mode & ~(stat.S_ISUID | stat.S_ISGID):04o})")  # fmt: skip
                stripped += 1
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or \
                    stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):  # fmt: skip
                os.unlink(path)
                log.note(f"removed special file: {shown}")
                removed += 1
    os.chmod(root, 0o755)  # noqa: S103 - the sandbox user must reach the tree
    log.note(f"sanity pass: {stripped} setuid/setgid bit(s) stripped, {removed} special file(s) "
             "removed")  # fmt: skip
