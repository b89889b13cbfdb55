"""Threat 16: the host's environment never reaches the sandbox."""

from __future__ import annotations

import secrets

import pytest

from helpers import HostGuard, SandboxFactory, assert_exited_ok, describe, py

READ_ALL_PROCESS_ENVIRONMENTS = """
    import os, sys
    out = sys.stdout.buffer
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as f:
                    out.write(f"{pid}/{name}: ".encode() + f.read() + b"\\n")
            except OSError as e:
                out.write(f"{pid}/{name}: {e}\\n".encode())
"""


@pytest.mark.parametrize("as_root", [False, True], ids=["user", "root"])
def test_host_secrets_are_not_visible(
    open_sandbox: SandboxFactory, host: HostGuard, monkeypatch: pytest.MonkeyPatch, as_root: bool
) -> None:
    secret = f"assay-secret-{secrets.token_hex(16)}"
    monkeypatch.setenv("ASSAY_TEST_GRADER_KEY", secret)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    box = open_sandbox()
    results = [
        box.run(["env"], as_root=as_root),
        py(box, READ_ALL_PROCESS_ENVIRONMENTS, as_root=as_root),
    ]
    assert b"HOME=/work" in results[1].stdout, "could not even read its own environ"
    for result in results:
        assert_exited_ok(result)
        assert secret.encode() not in result.stdout + result.stderr, describe(result)
        assert b"ASSAY_TEST_GRADER_KEY" not in result.stdout, describe(result)
    host.check(box)
