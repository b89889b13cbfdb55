"""Contract: a run on a pseudo-terminal (``terminal=True``) — prompts, echo, hang-up, limits."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from assay.errors import ConfigError
from assay.sandbox import Sandbox, Termination
from assay.sandbox.spec import MIB, Dialogue, Limits, RunSpec
from helpers import assert_exited_ok, describe

UNTIL_THE_END = (b"\0never printed\0", b"")


class Typist(Dialogue):
    """Types each line once the output so far contains its cue (or at once: cue ``b""``).

    Its replies end (hanging a terminal up) after the last line, or when a cue is
    waited for in vain; ``UNTIL_THE_END`` is a cue that waits for the run's end.
    """

    def __init__(self, *lines: tuple[bytes, bytes], wait_s: float = 10.0) -> None:
        self.lines = lines
        self.wait_s = wait_s
        self.heard_so_far = b""
        self.chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.missed: list[bytes] = []

    def heard(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def replies(self) -> Iterator[bytes]:
        for cue, line in self.lines:
            deadline = time.monotonic() + self.wait_s
            while cue not in self.heard_so_far:
                try:
                    chunk = self.chunks.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    chunk = None
                if chunk is None:  # ended, or waited in vain
                    self.missed.append(cue)
                    return
                self.heard_so_far += chunk
            yield line

    def hang_up(self) -> None:
        self.chunks.put(None)


def test_the_streams_are_one_terminal(sandbox: Sandbox) -> None:
    probe = "for fd in 0 1 2; do [ -t $fd ] && printf 'tty%s ' $fd; done; echo err >&2"
    result = sandbox.run(["sh", "-c", probe], terminal=True)
    assert_exited_ok(result)
    assert result.stdout == b"tty0 tty1 tty2 err\r\n"  # one stream; "\n" as a terminal shows it
    assert result.stderr == b""


def test_a_prompt_without_newline_is_seen_before_the_answer(sandbox: Sandbox) -> None:
    # C's stdio keeps a line-less prompt in its buffer on a pipe; on a terminal it is flushed
    # when the program reads. Python flushes before input() either way; printf never buffers.
    typist = Typist((b"Name: ", b"Ada\n"), UNTIL_THE_END)
    program = "import sys; name = input('Name: '); print('hello,', name)"
    result = sandbox.run(["python3", "-c", program], stdin=typist, terminal=True)
    assert_exited_ok(result)
    assert typist.missed == [UNTIL_THE_END[0]]
    assert result.stdout == b"Name: hello, Ada\r\n"  # echo off: the typed line is not shown


def test_the_end_of_the_replies_hangs_up_and_stops_the_run(sandbox: Sandbox) -> None:
    typist = Typist((b"? ", b"1\n"), (b"got 1", b""))  # then it ends: the loop still reads
    loop = "while :; do printf '? '; read x; echo got $x; done"
    limits = Limits(wall_time_s=20)
    started = time.monotonic()
    result = sandbox.run(["sh", "-c", loop], stdin=typist, terminal=True, limits=limits)
    assert time.monotonic() - started < 8, describe(result)
    assert result.termination is Termination.SIGNALED, describe(result)
    assert result.stdout.startswith(b"? got 1\r\n"), result.stdout
    assert typist.missed == []


def test_a_run_that_ends_first_is_not_signalled(sandbox: Sandbox) -> None:
    typist = Typist((b"", b"3\n"), UNTIL_THE_END)
    result = sandbox.run(["sh", "-c", "read x; echo $((x * 2))"], stdin=typist, terminal=True)
    assert_exited_ok(result)
    assert result.stdout == b"6\r\n"


def test_wall_time_is_enforced_on_a_terminal(sandbox: Sandbox) -> None:
    limits = Limits(wall_time_s=1)
    result = sandbox.run(["sh", "-c", "sleep 30"], terminal=True, limits=limits)
    assert result.termination is Termination.WALL_TIME_LIMIT, describe(result)


def test_output_is_bounded_on_a_terminal(sandbox: Sandbox) -> None:
    limits = Limits(output_bytes=1 * MIB, wall_time_s=10)
    result = sandbox.run(["sh", "-c", "yes"], terminal=True, limits=limits)
    assert result.termination is Termination.OUTPUT_LIMIT, describe(result)
    assert len(result.stdout) <= 1 * MIB


def test_a_terminal_takes_no_stdin_bytes() -> None:
    with pytest.raises(ConfigError, match="dialogue"):
        RunSpec(("cat",), stdin=b"x", terminal=True)
