from __future__ import annotations

from pathlib import Path

from assay.sandbox.native import seccomp
from assay.sandbox.native.command import RootLayout, bwrap_argv
from assay.sandbox.spec import RunSpec


def _argv(tmp_path: Path, **spec: object) -> list[str]:
    layout = RootLayout.from_rootfs(tmp_path / "rootfs")
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
    # nothing of the host: the environment's tree is the root, read-only
    binds = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    assert binds == [(str(tmp_path / "rootfs"), "/"), (str(tmp_path / "work"), "/work")]
    assert argv.index("--ro-bind") < argv.index("--proc") < argv.index("--bind")


def test_network_and_root_are_opt_in(tmp_path: Path) -> None:
    argv = _argv(tmp_path, network=True, as_root=True, cwd="src")
    assert "--unshare-net" not in argv
    assert argv[argv.index("--uid") + 1] == "0"
    assert argv[argv.index("--chdir") + 1] == "/work/src"


def test_a_run_with_network_gets_the_hosts_resolver_over_the_trees_empty_one(
    tmp_path: Path,
) -> None:
    argv = _argv(tmp_path, network=True)
    binds = [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == "--ro-bind"]
    if Path("/etc/resolv.conf").exists():
        assert ("/etc/resolv.conf", "/etc/resolv.conf") in binds


def test_seccomp_filter_compiles() -> None:
    bpf = seccomp.filter_bpf()
    assert len(bpf) % 8 == 0
    assert len(bpf) > 8 * 20
