from __future__ import annotations

from pathlib import Path

from assay.sandbox.native import seccomp
from assay.sandbox.native.command import RootLayout, build_etc, bwrap_argv
from assay.sandbox.spec import RunSpec


def _argv(tmp_path: Path, **spec: object) -> list[str]:
    layout = RootLayout.from_host(tmp_path / "etc")
    run = RunSpec(argv=("python3", "main.py"), **spec)  # type: ignore[arg-type]
    return bwrap_argv(
        "/usr/bin/bwrap",
        layout,
        tmp_path / "work",
        run,
        tmp_bytes=1 << 20,
        seccomp_fd=5,
        status_fd=6,
    )


def test_default_run_is_fully_isolated(tmp_path: Path) -> None:
    argv = _argv(tmp_path)
    for flag in (
        "--unshare-user",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
    ):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("--seccomp") + 1] == "5"
    assert argv[argv.index("--uid") + 1] == "1000"
    assert argv[argv.index("--remount-ro") + 1] == "/"
    assert argv[-3:] == ["--", "python3", "main.py"]
    # nothing of the host's private directories
    binds = {argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")}
    assert not binds & {"/home", "/root", "/var", "/run", "/etc", "/tmp"}


def test_network_and_root_are_opt_in(tmp_path: Path) -> None:
    argv = _argv(tmp_path, network=True, as_root=True, cwd="src")
    assert "--unshare-net" not in argv
    assert argv[argv.index("--uid") + 1] == "0"
    assert argv[argv.index("--chdir") + 1] == "/work/src"


def test_generated_etc_has_no_host_identity(tmp_path: Path) -> None:
    etc = build_etc(tmp_path)
    passwd = (etc / "passwd").read_text()
    assert "student:x:1000" in passwd
    assert not (etc / "shadow").exists()
    assert (etc / "hostname").read_text() == "sandbox\n"


def test_seccomp_filter_compiles() -> None:
    bpf = seccomp.filter_bpf()
    assert len(bpf) % 8 == 0
    assert len(bpf) > 8 * 20
