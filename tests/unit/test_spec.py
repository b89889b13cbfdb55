from __future__ import annotations

import pytest

from assay.errors import ConfigError
from assay.sandbox.result import RunResult, Termination, status_from_exit_code
from assay.sandbox.spec import GIB, KIB, MIB, Limits, RunSpec, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512", 512),
        ("64k", 64 * KIB),
        ("64K", 64 * KIB),
        ("256m", 256 * MIB),
        ("1.5g", 3 * GIB // 2),
        ("2GiB", 2 * GIB),
        ("10MB", 10 * MIB),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12x", "-5m", "m"])
def test_parse_size_rejects_garbage(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid size"):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(512) == "512 B"
    assert format_size(3 * MIB // 2) == "1.5 MiB"


def test_limits_validate_and_replace() -> None:
    limits = Limits().replace(cpu_time_s=2, memory_bytes=None)
    assert limits.cpu_time_s == 2
    assert limits.memory_bytes == Limits().memory_bytes
    with pytest.raises(ConfigError, match="pids"):
        Limits(pids=0)
    with pytest.raises(ConfigError, match="at least 4 MiB"):
        Limits(memory_bytes=1024)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"argv": ()}, "at least one"),
        ({"argv": ("a\0b",)}, "NUL"),
        ({"argv": ("x",), "env": {"A=B": "1"}}, "environment"),
        ({"argv": ("x",), "cwd": "/etc"}, "relative"),
        ({"argv": ("x",), "cwd": "../x"}, "relative"),
    ],
)
def test_run_spec_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunSpec(**kwargs)  # type: ignore[arg-type]


def test_status_decoding_matches_shell_convention() -> None:
    assert status_from_exit_code(0) == (0, None)
    assert status_from_exit_code(3) == (3, None)
    assert status_from_exit_code(137) == (None, 9)
    assert status_from_exit_code(139) == (None, 11)
    assert status_from_exit_code(128) == (128, None)
    assert status_from_exit_code(255) == (255, None)


def test_result_json_shape_replaces_invalid_utf8() -> None:
    result = RunResult(
        Termination.EXITED, 0, None, 0.1, 0.2, 1024, b"ok\xff\n", b"", stdout_truncated=True
    )
    data = result.to_json_dict()
    assert list(data) == [
        "termination",
        "exit_code",
        "signal",
        "cpu_time_s",
        "wall_time_s",
        "peak_memory_bytes",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
    ]
    assert data["stdout"] == "ok\ufffd\n"
    assert data["termination"] == "exited"
    assert result.ok
    assert not result.timed_out
