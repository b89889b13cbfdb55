"""Parts of the builder that need no root: the log, command lines, errors, the sanity pass."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from assay.errors import EnvironmentBuildError
from assay.sandbox.envs import userns
from assay.sandbox.envs.buildlog import BuildEvent, BuildLog, CommandFailed
from assay.sandbox.envs.debian import DebianBuilder, _apt_error, sanitize
from assay.sandbox.envs.inroot import CA_PATH, Bind, build_argv, build_env, probe_argv


def _log(tmp_path: Path, events: list[BuildEvent] | None = None) -> BuildLog:
    sink = events if events is not None else []
    return BuildLog(tmp_path / "build.log", "env", sink.append)


def test_run_logs_every_line_and_reports_progress(tmp_path: Path) -> None:
    events: list[BuildEvent] = []
    with _log(tmp_path, events) as log:
        log.step("saying")
        log.run(["sh", "-c", "echo one; echo two >&2"], what="saying")
    text = (tmp_path / "build.log").read_text()
    assert "] saying\n$ sh -c" in text
    assert text.endswith("one\ntwo\n")
    assert events == [
        BuildEvent("env", "saying"),
        BuildEvent("env", "saying", "one"),
        BuildEvent("env", "saying", "two"),
    ]


def test_a_failing_command_raises_with_its_status_and_tail(tmp_path: Path) -> None:
    with _log(tmp_path) as log, pytest.raises(CommandFailed) as caught:
        log.run(["sh", "-c", "for i in $(seq 40); do echo line $i; done; exit 7"], what="counting")
    assert caught.value.returncode == 7
    assert caught.value.tail[-1] == "line 40"
    assert len(caught.value.tail) == 30
    assert "counting failed with status 7" in caught.value.message
    assert "  | line 40" in caught.value.message
    assert "  | line 28" not in caught.value.message  # the message shows the last 12
    assert "counting failed with status 7" in (tmp_path / "build.log").read_text()


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-survived"
    script = f"(sleep 2; touch {marker}) & sleep 30"
    started = time.monotonic()
    with _log(tmp_path) as log, pytest.raises(EnvironmentBuildError, match="ran longer than 1 s"):
        log.run(["sh", "-c", script], what="sleeping", timeout_s=1)
    assert time.monotonic() - started < 10
    time.sleep(2.5)
    assert not marker.exists()


def test_a_missing_program_is_a_build_error(tmp_path: Path) -> None:
    with _log(tmp_path) as log, pytest.raises(EnvironmentBuildError, match="cannot run"):
        log.run(["/nonexistent/tool"], what="tooling")


def test_run_passes_only_the_given_environment(tmp_path: Path) -> None:
    code = "import os; print(sorted(k for k in os.environ if k != 'LC_CTYPE'))"
    with _log(tmp_path) as log:
        log.run([sys.executable, "-c", code], what="env", env={"ONLY": "1"})
    assert (tmp_path / "build.log").read_text().endswith("['ONLY']\n")


def test_build_steps_keep_no_dangerous_capability() -> None:
    line = build_argv("bwrap", Path("/t"), ["apt-get", "update"], env={"A": "1"})
    assert line[:4] == [sys.executable, "-I", userns.__file__, "--"]  # a user namespace first
    assert line[4:8] == ["bwrap", "--bind", "/t", "/"]
    assert line[line.index("--cap-drop") + 1] == "ALL"
    added = {line[i + 1] for i, arg in enumerate(line) if arg == "--cap-add"}
    assert "CAP_CHOWN" in added
    assert "CAP_SETUID" in added
    dangerous = {"CAP_SYS_ADMIN", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_SYS_MODULE"}
    assert not added & {*dangerous, "CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH"}
    assert "--unshare-pid" in line
    assert "--unshare-net" not in line  # apt and pip download (in a buildnet namespace)
    assert "--unshare-net" in build_argv("bwrap", Path("/t"), ["true"], env={}, network=False)
    assert "--clearenv" in line
    assert line[-3:] == ["--", "apt-get", "update"]


def test_build_steps_cannot_write_the_hosts_sysctls() -> None:
    line = build_argv("bwrap", Path("/t"), ["true"], env={})
    sys_bind = line.index("/proc/sys")
    assert line[sys_bind - 1 : sys_bind + 2] == ["--ro-bind", "/proc/sys", "/proc/sys"]
    assert sys_bind > line.index("--proc")  # over the step's own /proc, not under it


def test_build_steps_see_only_what_is_bound() -> None:
    line = build_argv(
        "bwrap",
        Path("/t"),
        ["true"],
        env={},
        binds=[Bind(Path("/ca"), CA_PATH), Bind(Path("/debs"), "/var/cache/apt/archives", False)],
    )
    text = " ".join(line)
    assert f"--ro-bind /ca {CA_PATH}" in text
    assert "--bind /debs /var/cache/apt/archives" in text
    env = build_env({}, ca_bundle=True)
    assert env["PIP_CERT"] == env["SSL_CERT_FILE"] == CA_PATH
    assert "PIP_CERT" not in build_env({}, ca_bundle=False)


def test_a_probe_runs_read_only_without_network_as_the_student() -> None:
    line = probe_argv("bwrap", Path("/t"), ["gcc", "--version"], {"PATH": "/usr/bin"})
    text = " ".join(line)
    assert text.startswith("bwrap --ro-bind /t / ")
    assert "--unshare-all" in line
    assert "--share-net" not in line
    assert "--uid 1000 --gid 1000" in text
    assert "--tmpfs /work" in text
    assert line[-3:] == ["--", "gcc", "--version"]


@pytest.mark.parametrize(
    ("line", "package"),
    [
        ("E: Unable to locate package nosuch", "nosuch"),
        ("E: Package 'python' has no installation candidate", "python"),
        ("E: Version '9.9' for 'make' was not found", "make"),
    ],
)
def test_apt_failures_name_the_package(line: str, package: str) -> None:
    error = _apt_error(CommandFailed("apt-get", 100, ["Reading package lists...", line]), "trixie")
    assert error.message.startswith(f"Debian package {package} is not in trixie (apt: E: ")
    assert error.fix


def test_other_apt_failures_are_left_as_they_are() -> None:
    failed = CommandFailed("apt-get", 100, ["E: Could not resolve 'deb.debian.org'"])
    assert _apt_error(failed, "bookworm") is failed


def test_the_sanity_pass_strips_setuid_bits_and_removes_special_files(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    suid = root / "usr/bin/su"
    suid.write_text("x")
    suid.chmod(0o4755)
    sgid = root / "usr/bin/wall"
    sgid.write_text("x")
    sgid.chmod(0o2755)
    plain = root / "usr/bin/ls"
    plain.write_text("x")
    plain.chmod(0o755)
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to("/etc/shadow")
    root.chmod(0o700)
    with _log(tmp_path) as log:
        sanitize(root, log)
    assert stat.S_IMODE(suid.stat().st_mode) == 0o755
    assert stat.S_IMODE(sgid.stat().st_mode) == 0o755
    assert stat.S_IMODE(plain.stat().st_mode) == 0o755
    assert not (root / "fifo").exists()
    assert (root / "link").is_symlink()
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    text = (tmp_path / "build.log").read_text()
    assert "stripped setuid/setgid: /usr/bin/su (4755 -> 0755)" in text
    assert "removed special file: /fifo" in text
    assert "2 setuid/setgid bit(s) stripped, 1 special file(s) removed" in text


def test_a_builder_names_what_the_host_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    builder = DebianBuilder(tool="mmdebstrap", bwrap="/nonexistent/bwrap")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    missing = builder.missing_tools()
    assert "/nonexistent/bwrap" in missing
    assert any(m.startswith("root") for m in missing)
