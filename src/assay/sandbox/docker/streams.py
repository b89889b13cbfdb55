"""Docker's multiplexed exec stream, split into bounded stdout and stderr.

Without a TTY, Docker frames the output of an exec: an 8-byte header (stream
number, three zero bytes, big-endian payload length) before each payload.
Payloads are passed through as they arrive, so memory stays bounded whatever
the frame sizes are.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from assay.sandbox.output import BoundedBuffer
from assay.sandbox.spec import OutputPolicy

STDIN, STDOUT, STDERR = 0, 1, 2
HEADER_SIZE = 8
_HEADER = struct.Struct(">BxxxL")


class FrameError(ValueError):
    """The stream is not in Docker's multiplexed format."""


class FrameDemuxer:
    """Incremental parser: ``feed`` raw bytes, get ``(stream, payload)`` pieces back."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._stream = 0
        self._remaining = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        pieces: list[tuple[int, bytes]] = []
        view = memoryview(data)
        while view:
            if self._remaining == 0:
                need = HEADER_SIZE - len(self._header)
                self._header += view[:need]
                view = view[need:]
                if len(self._header) < HEADER_SIZE:
                    break
                stream, length = _HEADER.unpack(self._header)
                self._header.clear()
                if stream not in (STDIN, STDOUT, STDERR):
                    raise FrameError(f"unknown stream number {stream} in exec output")
                self._stream, self._remaining = stream, length
                continue
            take = view[: self._remaining]
            self._remaining -= len(take)
            view = view[len(take) :]
            pieces.append((self._stream, bytes(take)))
        return pieces

    @property
    def in_frame(self) -> bool:
        """True between frames' boundaries (the stream ended mid-frame if so at EOF)."""
        return self._remaining > 0 or bool(self._header)


@dataclass(frozen=True)
class Output:
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool


class OutputCollector:
    """Stdout and stderr of one run, each capped at ``limit`` bytes."""

    def __init__(
        self, limit: int, policy: OutputPolicy, listener: Callable[[bytes], None] | None = None
    ) -> None:
        self.policy = policy
        self.listener = listener  # hears stdout as it arrives (a dialogue)
        self._demux = FrameDemuxer()
        self._out = BoundedBuffer(limit)
        self._err = BoundedBuffer(limit)

    def feed(self, data: bytes) -> bool:
        """Add raw stream bytes; True when a stream overflowed under ``OutputPolicy.KILL``."""
        for stream, payload in self._demux.feed(data):
            if stream != STDERR and self.listener is not None:
                self.listener(payload)
            target = self._err if stream == STDERR else self._out
            target.feed(payload)
        return self.overflowed and self.policy is OutputPolicy.KILL

    @property
    def overflowed(self) -> bool:
        return self._out.truncated or self._err.truncated

    def result(self) -> Output:
        return Output(
            self._out.getvalue(), self._err.getvalue(), self._out.truncated, self._err.truncated
        )
