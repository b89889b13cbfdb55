"""Contract: running a command — output, exit status, stdin, environment, cwd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.sandbox import Sandbox, Termination
from assay.sandbox.base import EntryKind, WorkspaceEntry
from helpers import (
    SANDBOX_UID,
    WORKSPACE,
    assert_exited_ok,
    describe,
    parse_env0,
    py,
)

BINARY = bytes(range(256)) * 4 + b"\xff\xfe\x00\xc3\x28\xe2\x82\x00\x1b[31m\r\n"


def test_stdout_and_stderr_are_separate(sandbox: Sandbox) -> None:
    result = sandbox.run(["sh", "-c", "echo out; echo err >&2"])
    assert_exited_ok(result)
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    assert result.signal is None
    assert not result.stdout_truncated
    assert not result.stderr_truncated


def test_exit_codes(sandbox: Sandbox) -> None:
    for code in (0, 1, 3, 42, 127, 255):
        result = sandbox.run(["sh", "-c", f"exit {code}"])
        assert result.termination is Termination.EXITED, describe(result)
        assert (result.exit_code, result.signal) == (code, None), describe(result)
        assert result.ok is (code == 0)


def test_argv_is_passed_verbatim(sandbox: Sandbox) -> None:
    args = ["a b", "", "é ü", "$HOME", "*", ";ls", "'\"", "--x=1"]
    result = py(sandbox, "import sys, json; print(json.dumps(sys.argv[1:]))", *args)
    assert_exited_ok(result)
    assert json.loads(result.stdout) == args


def test_runs_as_the_sandbox_user(sandbox: Sandbox) -> None:
    result = sandbox.run(["sh", "-c", "id -u; id -g"])
    assert_exited_ok(result)
    assert result.stdout.split() == [str(SANDBOX_UID).encode()] * 2


def test_as_root_runs_as_the_sandbox_root(sandbox: Sandbox) -> None:
    result = sandbox.run(["id", "-u"], as_root=True)
    assert_exited_ok(result)
    assert result.stdout == b"0\n"


# -- stdin ----------------------------------------------------------------------------
def test_stdin_bytes(sandbox: Sandbox) -> None:
    result = sandbox.run(["cat"], stdin=BINARY)
    assert_exited_ok(result)
    assert result.stdout == BINARY


def test_stdin_host_path(sandbox: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(BINARY * 100)
    result = sandbox.run(["cat"], stdin=source)
    assert_exited_ok(result)
    assert result.stdout == BINARY * 100


def test_stdin_binary_file(sandbox: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(BINARY)
    with source.open("rb") as f:
        result = sandbox.run(["cat"], stdin=f)
    assert_exited_ok(result)
    assert result.stdout == BINARY


def test_no_stdin_reads_eof(sandbox: Sandbox) -> None:
    result = py(
        sandbox,
        "import sys; print(len(sys.stdin.buffer.read()))",
        limits=sandbox.limits.replace(wall_time_s=5),
    )
    assert_exited_ok(result)
    assert result.stdout == b"0\n"


# -- environment ---------------------------------------------------------------------
def test_default_environment_is_the_environments(sandbox: Sandbox) -> None:
    result = sandbox.run(["env", "-0"])
    assert_exited_ok(result)
    assert parse_env0(result.stdout) == {**sandbox.environment.env, "PWD": "/work"}


def test_environment_is_exactly_as_given(sandbox: Sandbox) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/work/home",
        "FOO": "bar baz",
        "EMPTY": "",
        "UNICODE": "é",
        "EQ": "a=b",
    }
    result = sandbox.run(["env", "-0"], env=env)
    assert_exited_ok(result)
    assert parse_env0(result.stdout) == {**env, "PWD": "/work"}


def test_pwd_always_names_the_working_directory(sandbox: Sandbox) -> None:
    sandbox.write_file("sub/keep", b"")
    result = sandbox.run(["sh", "-c", 'echo "$PWD"; pwd'], cwd="sub", env={"PATH": "/usr/bin:/bin"})
    assert_exited_ok(result)
    assert result.stdout == b"/work/sub\n/work/sub\n"
    given = sandbox.run(["env", "-0"], env={"PATH": "/usr/bin:/bin", "PWD": "/elsewhere"})
    assert parse_env0(given.stdout)["PWD"] == "/work"


def test_home_and_path_come_from_the_given_env(sandbox: Sandbox) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/elsewhere"}
    code = "import os, shutil; print(os.path.expanduser('~')); print(shutil.which('cat'))"
    result = py(sandbox, code, env=env)
    assert_exited_ok(result)
    assert result.stdout == b"/tmp/elsewhere\n/usr/bin/cat\n"


def test_host_environment_is_not_inherited(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_CONTRACT_HOST_VAR", "host-value-4711")
    for env in (None, {"PATH": "/usr/bin:/bin"}):
        result = sandbox.run(["env", "-0"], env=env)
        assert_exited_ok(result)
        seen = parse_env0(result.stdout)
        assert "ASSAY_CONTRACT_HOST_VAR" not in seen
        assert b"host-value-4711" not in result.stdout


# -- working directory -----------------------------------------------------------------
def test_default_cwd_is_the_workspace(sandbox: Sandbox) -> None:
    result = sandbox.run(["pwd"])
    assert_exited_ok(result)
    assert result.stdout == f"{WORKSPACE}\n".encode()


def test_cwd_is_relative_to_the_workspace(sandbox: Sandbox) -> None:
    sandbox.add_entries(
        [
            WorkspaceEntry("sub", EntryKind.DIR, mode=0o755),
            WorkspaceEntry("sub/deeper", EntryKind.DIR, mode=0o755),
        ]
    )
    result = sandbox.run(["pwd"], cwd="sub/deeper")
    assert_exited_ok(result)
    assert result.stdout == f"{WORKSPACE}/sub/deeper\n".encode()


# -- output bytes ------------------------------------------------------------------------
def test_binary_output_is_preserved_byte_exactly(sandbox: Sandbox) -> None:
    code = """
        import sys
        data = bytes.fromhex(sys.argv[1])
        sys.stdout.buffer.write(data)
        sys.stderr.buffer.write(data[::-1])
    """
    result = py(sandbox, code, BINARY.hex())
    assert_exited_ok(result)
    assert result.stdout == BINARY
    assert result.stderr == BINARY[::-1]


def test_output_without_trailing_newline(sandbox: Sandbox) -> None:
    result = sandbox.run(["printf", "no newline"])
    assert_exited_ok(result)
    assert result.stdout == b"no newline"
