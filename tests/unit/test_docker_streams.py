"""Docker's multiplexed exec stream: frame parsing and bounded collection."""

from __future__ import annotations

import struct

import pytest

from assay.sandbox.docker.streams import (
    STDERR,
    STDOUT,
    FrameDemuxer,
    FrameError,
    OutputCollector,
)
from assay.sandbox.spec import OutputPolicy


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def joined(pieces: list[tuple[int, bytes]]) -> dict[int, bytes]:
    out: dict[int, bytes] = {STDOUT: b"", STDERR: b""}
    for stream, payload in pieces:
        out[stream] += payload
    return out


def test_whole_frames() -> None:
    demux = FrameDemuxer()
    pieces = demux.feed(frame(STDOUT, b"out") + frame(STDERR, b"err") + frame(STDOUT, b"!"))
    assert pieces == [(STDOUT, b"out"), (STDERR, b"err"), (STDOUT, b"!")]
    assert not demux.in_frame


@pytest.mark.parametrize("step", [1, 3, 7, 8, 9, 1000])
def test_frames_split_anywhere(step: int) -> None:
    data = frame(STDOUT, b"hello ") + frame(STDERR, b"\x00\xff" * 50) + frame(STDOUT, b"world")
    demux = FrameDemuxer()
    pieces: list[tuple[int, bytes]] = []
    for i in range(0, len(data), step):
        pieces += demux.feed(data[i : i + step])
    assert joined(pieces) == {STDOUT: b"hello world", STDERR: b"\x00\xff" * 50}
    assert not demux.in_frame


def test_empty_frames_and_partial_end() -> None:
    demux = FrameDemuxer()
    assert demux.feed(frame(STDOUT, b"")) == []
    assert demux.feed(frame(STDOUT, b"abcdef")[:10]) == [(STDOUT, b"ab")]
    assert demux.in_frame


def test_unknown_stream_is_an_error() -> None:
    with pytest.raises(FrameError):
        FrameDemuxer().feed(frame(7, b"x"))


def test_payload_is_not_buffered_whole() -> None:
    demux = FrameDemuxer()
    header = struct.pack(">BxxxL", STDOUT, 10 * 1024 * 1024)
    assert demux.feed(header + b"x" * 100) == [(STDOUT, b"x" * 100)]


def test_collector_kill_policy_reports_overflow() -> None:
    collector = OutputCollector(10, OutputPolicy.KILL)
    assert not collector.feed(frame(STDOUT, b"0123456789"))
    assert collector.feed(frame(STDERR, b"e") + frame(STDOUT, b"overflow"))
    result = collector.result()
    assert result.stdout == b"0123456789"
    assert result.stderr == b"e"
    assert result.stdout_truncated and not result.stderr_truncated


def test_collector_truncate_policy_keeps_going() -> None:
    collector = OutputCollector(4, OutputPolicy.TRUNCATE)
    for _ in range(100):
        assert not collector.feed(frame(STDERR, b"abc"))
    result = collector.result()
    assert result.stderr == b"abca"
    assert result.stderr_truncated
    assert collector.overflowed
