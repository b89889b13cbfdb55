"""Threats 4 and 5: output floods, no newlines, big stdin; the host stays bounded."""

from __future__ import annotations

import resource

import pytest

from assay.sandbox import OutputPolicy, Termination
from helpers import (
    GRACE_S,
    KIB,
    MIB,
    QUICK_LIMITS,
    HostGuard,
    SandboxFactory,
    assert_exited_ok,
    assert_termination,
    describe,
    py,
    timed,
)

LIMITS = QUICK_LIMITS.replace(output_bytes=256 * KIB, wall_time_s=10)

FLOODS = {
    "stdout-lines": ["yes", "flood"],
    "stderr-lines": ["sh", "-c", "yes flood >&2"],
    "stdout-no-newline": [
        "python3",
        "-c",
        "import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)",
    ],
    "stderr-no-newline": [
        "python3",
        "-c",
        "import sys\nwhile True: sys.stderr.buffer.write(b'x' * 65536)",
    ],
    "both": ["sh", "-c", "yes out & yes err >&2"],
}


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize("name", list(FLOODS))
def test_flood_is_killed_promptly(open_sandbox: SandboxFactory, host: HostGuard, name: str) -> None:
    box = open_sandbox(limits=LIMITS)
    result, elapsed = timed(lambda: box.run(FLOODS[name]))
    assert_termination(result, Termination.OUTPUT_LIMIT)
    assert len(result.stdout) <= LIMITS.output_bytes
    assert len(result.stderr) <= LIMITS.output_bytes
    assert len(result.stdout) + len(result.stderr) >= LIMITS.output_bytes, describe(result)
    assert elapsed < 1 + GRACE_S, f"killed after {elapsed:.1f}s"
    host.check(box)


@pytest.mark.slow
def test_truncated_flood_keeps_the_host_bounded(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox(limits=LIMITS)
    code = """
        import sys
        block = b"z" * (1 << 20)
        for _ in range(400):
            sys.stdout.buffer.write(block)
            sys.stderr.buffer.write(block)
        sys.stdout.flush()
        print("end", file=sys.stderr)
    """
    before = _maxrss_bytes()
    result = py(box, code, output_policy=OutputPolicy.TRUNCATE)
    assert_exited_ok(result)
    assert result.stdout == b"z" * LIMITS.output_bytes
    assert result.stderr == b"z" * LIMITS.output_bytes
    assert result.stdout_truncated and result.stderr_truncated
    grown = _maxrss_bytes() - before
    assert grown < 64 * MIB, f"the host process grew by {grown / MIB:.0f} MiB for 800 MiB output"
    host.check(box)


@pytest.mark.parametrize("output_mib", [1, 32])
def test_twenty_megabytes_through_cat(
    open_sandbox: SandboxFactory, host: HostGuard, output_mib: int
) -> None:
    limits = QUICK_LIMITS.replace(output_bytes=output_mib * MIB, wall_time_s=10)
    box = open_sandbox(limits=limits)
    data = bytes(range(256)) * (20 * MIB // 256)
    result = box.run(["cat"], stdin=data)
    if output_mib * MIB < len(data):
        assert_termination(result, Termination.OUTPUT_LIMIT)
        assert len(result.stdout) <= output_mib * MIB
        assert data.startswith(result.stdout)
    else:
        assert_exited_ok(result)
        assert result.stdout == data
    host.check(box)


def test_terminal_escapes_and_invalid_utf8_stay_bytes(
    open_sandbox: SandboxFactory, host: HostGuard
) -> None:
    box = open_sandbox()
    nasty = b"\x1b]0;title\x07\x1b[2J\x1b[31mred\xff\xfe\xc0\x80\x00\r\x08\x7f\x9b"
    result = py(box, "import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))", nasty.hex())
    assert_exited_ok(result)
    assert result.stdout == nasty
    host.check(box)
