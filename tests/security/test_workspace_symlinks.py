"""Threats 13-15: symlinks going in, and symlinks planted where the host later works."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from assay.errors import WorkspacePathError
from assay.sandbox import Sandbox
from helpers import HostGuard, SandboxFactory, assert_exited_ok, describe


def _submission_with_links(tmp_path: Path, host: HostGuard) -> Path:
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "main.py").write_bytes(b"print('hello')\n")
    os.symlink(host.canary_path, submission / "canary_link")
    os.symlink("/etc/shadow", submission / "shadow_link")
    os.symlink(os.path.relpath(host.canary_path, submission), submission / "relative_link")
    os.symlink(host.canary_path.parent, submission / "dir_link")
    for link in ("canary_link", "relative_link", f"dir_link/{host.canary_path.name}"):
        assert (submission / link).read_bytes() == host.canary  # the links work on the host
    return submission


def _host_shadow_lines() -> list[bytes]:
    # lines with a password hash are the secrets; "*" and "!" lines are common to images
    lines = Path("/etc/shadow").read_bytes().splitlines()
    return [line for line in lines if line.split(b":")[1] not in (b"*", b"!", b"!*", b"")]


def test_added_symlinks_never_expose_host_files(
    open_sandbox: SandboxFactory, host: HostGuard, tmp_path: Path
) -> None:
    submission = _submission_with_links(tmp_path, host)
    box = open_sandbox()
    box.add_files(submission)
    result = box.run(
        [
            "sh",
            "-c",
            "cat canary_link shadow_link relative_link "
            f"dir_link/{host.canary_path.name}; ls dir_link; exit 0",
        ]
    )
    output = result.stdout + result.stderr
    assert host.canary not in output, describe(result)
    for line in _host_shadow_lines():
        assert line not in output
    assert host.canary_path.name.encode() not in result.stdout, "the host directory was listed"
    links = ["canary_link", "shadow_link", "relative_link", f"dir_link/{host.canary_path.name}"]
    for link in links:
        with pytest.raises(WorkspacePathError):
            box.read_file(link)
    with pytest.raises(WorkspacePathError):
        box.list_files("dir_link")
    host.check(box)


def _plant(box: Sandbox, *links: tuple[str, str | Path]) -> None:
    script = " && ".join(f"ln -s '{target}' '{name}'" for name, target in links)
    assert_exited_ok(box.run(["sh", "-c", script]))


def test_host_writes_never_follow_planted_symlinks(
    open_sandbox: SandboxFactory, host: HostGuard, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    box = open_sandbox()
    _plant(box, ("victim", host.canary_path), ("dir", outside), ("harness.py", host.canary_path))

    try:
        box.write_file("victim", b"pwned")
    except WorkspacePathError:
        pass
    else:
        assert box.read_file("victim") == b"pwned"

    with pytest.raises(WorkspacePathError):
        box.write_file("dir/x", b"pwned")

    source = tmp_path / "src"
    source.mkdir()
    (source / "x").write_bytes(b"pwned")
    (source / "harness.py").write_bytes(b"print('harness')\n")
    with contextlib.suppress(WorkspacePathError):
        box.add_files(source, dest="dir")
    try:
        box.add_files(source / "harness.py", owner_root=True, read_only=True)
    except WorkspacePathError:
        pass
    else:
        assert box.read_file("harness.py") == b"print('harness')\n"

    assert list(outside.iterdir()) == [], "the host wrote through a planted symlink"
    host.check(box)


def test_reset_and_close_never_delete_through_planted_symlinks(
    open_sandbox: SandboxFactory, host: HostGuard, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_bytes(b"keep")
    box = open_sandbox()
    for step in ("reset", "close"):
        _plant(
            box,
            ("precious_link", precious),
            ("canary_link", host.canary_path),
            ("etc_link", "/etc"),
        )
        assert_exited_ok(box.run(["sh", "-c", f"mkdir -p d && ln -s '{precious}' d/deeper"]))
        if step == "reset":
            box.reset()
            host.after_reset()
            assert box.list_files() == []
        else:
            host.check(box)
        assert (precious / "keep.txt").read_bytes() == b"keep", f"{step} deleted host files"
        assert Path("/etc/hostname").exists()
