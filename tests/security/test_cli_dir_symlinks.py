"""Threat 13 through the CLI: ``assay sandbox run --dir D`` never follows D's links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import HostGuard

ASSAY = Path(sys.executable).with_name("assay")


@pytest.mark.parametrize("link_to", ["absolute", "relative", "shadow"])
def test_cli_dir_symlink_to_a_host_file_is_not_followed(
    backend_name: str, host: HostGuard, tmp_path: Path, link_to: str
) -> None:
    if not ASSAY.exists():
        pytest.skip(f"the assay command is not installed at {ASSAY}")
    directory = tmp_path / "d"
    directory.mkdir()
    target = {
        "absolute": str(host.canary_path),
        "relative": os.path.relpath(host.canary_path, directory),
        "shadow": "/etc/shadow",
    }[link_to]
    os.symlink(target, directory / "link")
    if link_to != "shadow":
        assert (directory / "link").read_bytes() == host.canary  # the link works on the host

    with subprocess.Popen(
        [
            str(ASSAY),
            "sandbox",
            "run",
            "--backend",
            backend_name,
            "--dir",
            str(directory),
            "--json",
            "--wall-time",
            "10",
            "--",
            "cat",
            "link",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        stdout, stderr = proc.communicate(timeout=120)
    output = stdout + stderr
    assert host.canary not in output, output
    assert proc.returncode == 1, f"status {proc.returncode}: {output!r}"  # cat's own status
    result = json.loads(stdout)
    assert result["termination"] == "exited"
    assert result["exit_code"] == 1
    assert result["stdout"] == ""
    host.assert_no_sandbox_processes()
    host.close_and_assert_gone(owner_pid=proc.pid)
    host.assert_host_unchanged()
