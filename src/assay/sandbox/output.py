"""Bounded buffers for untrusted output: memory use never exceeds the limit."""

from __future__ import annotations


class BoundedBuffer:
    """Keeps the first ``limit`` bytes written; remembers whether more came."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; True once the limit has been exceeded."""
        room = self.limit - self._size
        if len(chunk) > room:
            chunk = chunk[: max(room, 0)]
            self.truncated = True
        if chunk:
            self._chunks.append(chunk)
            self._size += len(chunk)
        return self.truncated

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)
