"""A run's pseudo-terminal on the native backend: the slave is its stdin, stdout and stderr.

The pair is allocated on the host (``os.openpty``); the run gets only the
slave, as fds 0, 1 and 2, and is a session leader without a controlling
terminal (bubblewrap's ``--new-session``, ``setsid`` in a prepared run), so
nothing it does reaches a terminal of the host. TIOCSTI (and TIOCLINUX,
TIOCSETD) are refused by the run's seccomp filter anyway. The supervisor
reads the master as the run's output, untrusted and bounded like a pipe's;
a thread writes the dialogue's replies to it. When the replies end the
terminal is hung up: ``hangup_fd`` becomes readable and the supervisor
stops the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import termios
import threading

from assay.errors import SandboxError
from assay.sandbox.spec import Dialogue

ROWS, COLUMNS = 24, 80  # as pexpect's default
WRITE_POLL_MS = 100  # how often a writer blocked on a full terminal checks for the end
JOIN_S = 5.0  # the replies end within this after the hang-up


def open_terminal() -> tuple[int, int]:
    """A fresh pty pair ``(master, slave)``: echo off, 80x24, both close-on-exec."""
    master, slave = os.openpty()
    try:
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # lflag: what is typed is not shown (pexpect's echo=False)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    except OSError:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


class TerminalWriter:
    """Writes a dialogue's replies to a terminal's master from a thread of its own."""

    def __init__(self, master: int, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.fd = os.dup(master)  # its own descriptor: closed by this thread, never reused under it
        os.set_blocking(self.fd, False)
        self.hangup_fd, self._hangup_w = os.pipe2(os.O_CLOEXEC)
        self._ended = threading.Event()
        self.thread = threading.Thread(target=self._pump, name="assay-terminal", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            for reply in self.dialogue.replies():
                self._write(reply)
        except OSError:
            pass  # the terminal is gone (the run ended)
        finally:
            os.close(self.fd)
            os.close(self._hangup_w)  # the supervisor sees the hang-up

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        while view and not self._ended.is_set():
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:  # the run does not read: its input queue is full
                poller.poll(WRITE_POLL_MS)

    def end(self) -> None:
        """After the run: the replies stop within JOIN_S or the run fails."""
        self.dialogue.hang_up()
        self._ended.set()
        self.thread.join(JOIN_S)
        if self.thread.is_alive():
            raise SandboxError("a dialogue's replies did not end after the run")
        with contextlib.suppress(OSError):
            os.close(self.hangup_fd)

    def abandon(self) -> None:
        """The run failed: stop the replies without waiting for them."""
        self.dialogue.hang_up()
        self._ended.set()
        with contextlib.suppress(OSError):
            os.close(self.hangup_fd)
