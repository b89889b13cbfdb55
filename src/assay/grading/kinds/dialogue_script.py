"""Playing a ``dialogue`` test's steps against a program on a terminal, as check50 does.

``Conversation`` is the run's ``Dialogue``: the sandbox hands it the
program's output as it arrives and writes what it sends. The steps run in a
thread of its own, with check50's semantics (pexpect underneath):

- output goes into a buffer of text not yet consumed; an expectation is a
  regex *search* (DOTALL) of that buffer, tried again as output arrives, and
  a match consumes the buffer up to its end;
- a newline in expected text stands for the terminal's ``\\r\\n``;
- ``send`` with a prompt first waits for any output (the prompt), then
  consumes everything the program prints until it is quiet for 0.1 s, then
  types the line; without a prompt it types at once;
- ``expect_eof`` waits for the end of the output and fails if any output
  was left unconsumed; ``reject`` passes if the program is still running
  after its timeout; ``exit`` waits for the end, its status is judged once
  the run is over (``exit_step``).

The first failing step ends the conversation. When it ends, the replies
end too, which hangs the terminal up: a program still running is stopped.
Output is untrusted: it is decoded strictly (invalid UTF-8 fails the step,
as in check50) and the transcript is bounded.
"""

from __future__ import annotations

import codecs
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from assay.grading.kinds.dialogue_steps import Action, Step
from assay.sandbox.spec import Dialogue

QUIET_S = 0.1  # a prompt is over when the program prints nothing for this long (check50)
VEOF = b"\x04"  # what "end of input" is on a terminal (Ctrl-D)
MAX_BUFFER_CHARS = 1024 * 1024  # unconsumed output kept for matching
MAX_TRANSCRIPT_CHARS = 64 * 1024
SHOWN_CHARS = 2000  # what a failure message quotes of the output
COALESCE_BYTES = 64 * 1024  # output already arrived is searched in pieces of up to this


class Who(StrEnum):
    PROGRAM = "program"  # output of the program
    SENT = "sent"  # a line (or end of input) typed to it
    END = "end"  # the output ended


@dataclass(frozen=True)
class Exchange:
    who: Who
    text: str


@dataclass(frozen=True)
class StepResult:
    """How one step went; ``passed`` is None for an exit step still to be judged."""

    index: int
    step: Step
    passed: bool | None
    message: str = ""
    expected: str | None = None
    seen: str | None = None


class _Wait(StrEnum):
    DATA = "data"
    TIMEOUT = "timeout"
    EOF = "eof"
    BAD_TEXT = "bad_text"


@dataclass(frozen=True)
class _Found:
    end: int


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """Output as a person reads it: the terminal's CRLF as a newline, bounded."""
    text = text.replace("\r\n", "\n")
    return text if len(text) <= limit else text[:limit] + "..."


class Conversation(Dialogue):
    """The steps of one dialogue test, played against one run."""

    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self.results: list[StepResult] = []
        self.transcript: list[Exchange] = []
        self.done = threading.Event()
        self._transcript_chars = 0
        self._transcript_cut = False
        self._events: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._typed: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._buffer = ""
        self._eof = False
        self._started = False
        self._lock = threading.Lock()
        self.ended_first = False  # the steps ended while the program still ran (then stopped)

    # -- the sandbox's side ------------------------------------------------------------
    def heard(self, chunk: bytes) -> None:
        self._events.put(chunk)

    def replies(self) -> Iterator[bytes]:
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._play, name="assay-dialogue", daemon=True).start()
        while (data := self._typed.get()) is not None:
            yield data

    def hang_up(self) -> None:
        self._events.put(None)  # the output ended
        self._typed.put(None)  # and nothing more is typed

    # -- the outcome -------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._started

    @property
    def exit_step(self) -> StepResult | None:
        """The exit step reached, if any (judged by the caller from the run's status)."""
        last = self.results[-1] if self.results else None
        return last if last is not None and last.passed is None else None

    @property
    def failure(self) -> StepResult | None:
        return next((r for r in self.results if r.passed is False), None)

    @property
    def truncated(self) -> bool:
        return self._transcript_cut

    # -- playing -----------------------------------------------------------------------
    def _play(self) -> None:
        try:
            for index, step in enumerate(self.steps):
                result = self._step(index, step)
                self.results.append(result)
                if result.passed is False:
                    break
        finally:
            self.ended_first = not self._eof
            self._typed.put(None)  # the end of the replies: the terminal is hung up
            self.done.set()

    def _step(self, index: int, step: Step) -> StepResult:
        match step.action:
            case Action.SEND | Action.SEND_EOF:
                return self._send(index, step)
            case Action.EXPECT | Action.EXPECT_REGEX | Action.EXPECT_NUMBER:
                return self._expect(index, step)
            case Action.EXPECT_EOF:
                return self._expect_eof(index, step)
            case Action.REJECT:
                return self._reject(index, step)
            case Action.EXIT:
                return self._exit(index, step)

    def _send(self, index: int, step: Step) -> StepResult:
        if step.waits_for_prompt:
            found = self._search(_ANY, step.timeout)
            if not isinstance(found, _Found):
                return self._fail(index, step, found, "expected a prompt for input, found none")
            self._consume(found.end)
            for _ in range(int(step.timeout * 10)):  # the rest of the prompt (check50's count)
                more = self._search(_ANY, QUIET_S)
                if not isinstance(more, _Found):
                    break
                self._consume(more.end)
        if step.action is Action.SEND_EOF:
            self._record(Who.SENT, "")
            self._typed.put(VEOF)
        else:
            line = str(step.send)
            self._record(Who.SENT, line)
            self._typed.put(line.encode("utf-8") + b"\n")
        return StepResult(index, step, True)

    def _expect(self, index: int, step: Step) -> StepResult:
        pattern = str(step.pattern()).replace("\n", "\r\n")
        regex = re.compile(pattern, re.DOTALL)
        found = self._search(regex.search, step.timeout)
        if isinstance(found, _Found):
            self._consume(found.end)
            return StepResult(index, step, True)
        expected = step.shown or step.expected_text
        what = f'"{shown(expected, 200)}"'
        if found is _Wait.EOF:
            message = f"expected {what}, but the output ended"
        else:
            message = f"did not find {what} (waited {step.timeout:g} s)"
        return self._fail(index, step, found, message, expected=expected)

    def _expect_eof(self, index: int, step: Step) -> StepResult:
        ended = self._until_eof(step.timeout)
        if ended is _Wait.TIMEOUT:
            message = (
                "expected the output to end, "
                f"but the program was still running after {step.timeout:g} s"
            )
            return self._fail(index, step, ended, message, expected="(end of output)")
        if ended is _Wait.BAD_TEXT:
            return self._fail(index, step, ended, "")
        left = self._buffer
        self._consume(len(left))
        if left:
            return StepResult(
                index,
                step,
                False,
                "expected the output to end, but there was more",
                expected="(end of output)",
                seen=shown(left),
            )
        return StepResult(index, step, True)

    def _reject(self, index: int, step: Step) -> StepResult:
        ended = self._until_eof(step.timeout)
        if ended is _Wait.TIMEOUT:
            return StepResult(index, step, True)  # still running: the input was rejected
        message = "expected the program to reject the input and wait for more, but it ended"
        return self._fail(index, step, ended, message if ended is _Wait.EOF else "")

    def _exit(self, index: int, step: Step) -> StepResult:
        ended = self._until_eof(step.timeout)
        if ended is _Wait.TIMEOUT:
            return self._fail(index, step, ended, "timed out while waiting for the program to exit")
        if ended is _Wait.BAD_TEXT:
            return self._fail(index, step, ended, "")
        self._consume(len(self._buffer))
        return StepResult(index, step, None)  # judged by the run's exit status

    def _fail(
        self, index: int, step: Step, why: object, message: str, *, expected: str | None = None
    ) -> StepResult:
        if why is _Wait.BAD_TEXT:
            message = "the output is not valid UTF-8 text"
        return StepResult(index, step, False, message, expected=expected, seen=shown(self._buffer))

    # -- the buffer --------------------------------------------------------------------
    def _search(
        self, find: Callable[[str], re.Match[str] | None], timeout: float
    ) -> _Found | _Wait:
        """Search the buffer now and as output arrives, until ``timeout`` or the end."""
        deadline = time.monotonic() + timeout
        while True:
            match = find(self._buffer)
            if match is not None:
                return _Found(match.end())
            if self._eof:
                return _Wait.EOF
            got = self._receive(deadline - time.monotonic())
            if got is not _Wait.DATA:
                if got is _Wait.EOF:
                    continue  # one last search happened above with all the data
                return got

    def _until_eof(self, timeout: float) -> _Wait:
        """Wait for the end of the output (what arrives meanwhile stays unconsumed)."""
        deadline = time.monotonic() + timeout
        while not self._eof:
            got = self._receive(deadline - time.monotonic())
            if got in (_Wait.TIMEOUT, _Wait.BAD_TEXT):
                return got
        return _Wait.EOF

    def _receive(self, timeout: float) -> _Wait:
        if self._eof:
            return _Wait.EOF
        if timeout <= 0:
            return _Wait.TIMEOUT
        try:
            chunk = self._events.get(timeout=timeout)
        except queue.Empty:
            return _Wait.TIMEOUT
        chunk = self._more(chunk)
        try:
            text = self._decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError:
            text = None
        if chunk is None:
            self._eof = True
        if text is None:
            return _Wait.BAD_TEXT
        if text:
            self._buffer = (self._buffer + text)[-MAX_BUFFER_CHARS:]
            self._record(Who.PROGRAM, text)
        if chunk is None:
            self._record(Who.END, "")
            return _Wait.EOF
        return _Wait.DATA

    def _more(self, chunk: bytes | None) -> bytes | None:
        """``chunk`` and whatever else has arrived already, up to the end of the output:
        the buffer is searched once for all of it (a program writing a byte at a time
        must not make us search its whole output for every byte)."""
        if chunk is None:
            return None
        pieces = [chunk]
        size = len(chunk)
        while size < COALESCE_BYTES:
            try:
                more = self._events.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._events.put(None)  # the end, taken on the next receive
                break
            pieces.append(more)
            size += len(more)
        return b"".join(pieces)

    def _consume(self, end: int) -> None:
        self._buffer = self._buffer[end:]

    def _record(self, who: Who, text: str) -> None:
        if self._transcript_chars >= MAX_TRANSCRIPT_CHARS:
            self._transcript_cut = True
            return
        text = text[: MAX_TRANSCRIPT_CHARS - self._transcript_chars]
        self._transcript_chars += len(text) + 1
        if who is Who.PROGRAM and self.transcript and self.transcript[-1].who is Who.PROGRAM:
            self.transcript[-1] = Exchange(who, self.transcript[-1].text + text)
        else:
            self.transcript.append(Exchange(who, text))


_ANY = re.compile(".+", re.DOTALL).search  # any output at all
