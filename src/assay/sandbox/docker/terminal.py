"""A run on a terminal with the Docker backend: ``Tty`` execs, echo off, hang-up.

Docker allocates the exec's pseudo-terminal (its master stays in the
daemon) and sends its output as one raw stream, without the multiplexing
header. A new terminal echoes what is typed, so the command is wrapped:
a shell turns echo off (``stty -echo``), prints ``READY`` and execs the
run's command line; nothing is written to the terminal before ``READY``
is seen (``TerminalDialogue``), and ``READY`` is not part of the output.
The run is the exec's process and a session leader with the terminal as
its controlling one (runc's setup): it can reach no other terminal.
When the dialogue's replies end, ``hung_up`` is set: the supervisor stops
the run, as the native backend does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from assay.sandbox.docker.streams import Output
from assay.sandbox.output import BoundedBuffer
from assay.sandbox.spec import Dialogue, OutputPolicy

READY = "\x1b]assay-terminal-ready\x07"  # an OSC sequence: a terminal would show nothing
_WRAPPER = 'PATH=/usr/bin:/bin stty -echo && printf %s "$0" && exec "$@"'


def terminal_argv(argv: list[str]) -> list[str]:
    """``argv`` run once the terminal's echo is off and READY is printed."""
    return ["/bin/sh", "-c", _WRAPPER, READY, *argv]


class TerminalDialogue(Dialogue):
    """A run's dialogue, held back until the terminal is ready, with its end observed."""

    def __init__(self, inner: Dialogue | None) -> None:
        self.inner = inner
        self.ready = threading.Event()
        self.hung_up = threading.Event()  # the replies ended: the run is to be stopped

    def heard(self, chunk: bytes) -> None:
        if self.inner is not None:
            self.inner.heard(chunk)

    def replies(self) -> Iterator[bytes]:
        self.ready.wait()
        if self.inner is not None:
            yield from self.inner.replies()
        self.hung_up.set()

    def hang_up(self) -> None:
        self.ready.set()  # a run that never got ready: its replies must not wait on
        if self.inner is not None:
            self.inner.hang_up()


class TerminalOutput:
    """The raw output of a ``Tty`` exec: READY first (removed), then the run's, bounded."""

    def __init__(
        self,
        limit: int,
        policy: OutputPolicy,
        listener: Callable[[bytes], None],
        ready: Callable[[], None],
    ) -> None:
        self.policy = policy
        self.listener = listener
        self.ready = ready
        self._out = BoundedBuffer(limit)
        self._head = b""  # the first bytes, until READY is recognised (or not)
        self._seen = False
        self._marker = READY.encode()

    def feed(self, data: bytes) -> bool:
        """Add raw stream bytes; True when the output overflowed under ``OutputPolicy.KILL``."""
        if not self._seen:
            self._head += data
            if len(self._head) < len(self._marker) and self._marker.startswith(self._head):
                return False
            self._seen = True
            data, self._head = self._head, b""
            if data.startswith(self._marker):
                data = data[len(self._marker) :]
                self.ready()
            # else: the wrapper failed (its message is the output) and input never flows
        if data:
            self.listener(data)
            self._out.feed(data)
        return self.overflowed and self.policy is OutputPolicy.KILL

    @property
    def overflowed(self) -> bool:
        return self._out.truncated

    def result(self) -> Output:
        if not self._seen:  # the stream ended inside what might have been READY
            self._out.feed(self._head)
        return Output(self._out.getvalue(), b"", self._out.truncated, False)
