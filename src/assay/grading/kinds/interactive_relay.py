"""Two sandboxed runs with their standard streams crossed, relayed by the host.

The judge runs in a sandbox session of its own and the submission in the
student's; neither can reach the other except through this relay: what one
writes on standard output the host hands, as untrusted bytes, to the other's
standard input. Each direction is bounded (at most what its writer may
output). When one side's run ends, the other's input ends (end of file)
after what was already relayed; both runs are started at the same moment
and neither may outlive the pair's wall-time limit.

Both runs are made with ``Dialogue`` standard input, so the backends
(native and Docker) stream them the same way as a hook runner's channel.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assay.grading.interaction import MAX_LINES, Direction, InteractionLine
from assay.sandbox.result import RunResult
from assay.sandbox.spec import Dialogue

TRANSCRIPT_BYTES = 64 * 1024  # of the conversation kept for the report


class _Stream:
    """Bytes one side wrote, queued for the other side's standard input (bounded)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.overflowed = False
        self._chunks: deque[bytes] = deque()
        self._ended = False  # the writer is done: end of file after what is queued
        self._abandoned = False  # the reader is gone: stop now
        self._cond = threading.Condition()

    def put(self, chunk: bytes) -> None:
        with self._cond:
            if self._ended or self._abandoned or self.overflowed:
                return
            room = self.limit - self.total
            if len(chunk) > room:
                chunk, self.overflowed = chunk[:room], True
            self.total += len(chunk)
            if chunk:
                self._chunks.append(chunk)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def abandon(self) -> None:
        with self._cond:
            self._abandoned = True
            self._chunks.clear()
            self._cond.notify_all()

    def chunks(self) -> Iterator[bytes]:
        while True:
            with self._cond:
                while not (self._chunks or self._ended or self._abandoned):
                    self._cond.wait()
                if self._abandoned or not self._chunks:
                    return
                chunk = self._chunks.popleft()
            yield chunk


class Transcript:
    """The conversation as lines with their direction, bounded (for the report)."""

    def __init__(self, limit: int = TRANSCRIPT_BYTES) -> None:
        self.limit = limit
        self.kept = 0
        self.cut = False
        self.lines: list[InteractionLine] = []
        self._partial: dict[Direction, bytearray] = {
            Direction.TO_SUBMISSION: bytearray(),
            Direction.FROM_SUBMISSION: bytearray(),
        }
        self._lock = threading.Lock()

    def add(self, direction: Direction, chunk: bytes) -> None:
        with self._lock:
            if self.cut:
                return
            if self.kept + len(chunk) > self.limit or len(self.lines) >= MAX_LINES:
                self.cut = True
                return
            self.kept += len(chunk)
            buffer = self._partial[direction]
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                self._line(direction, bytes(buffer[:end]))
                del buffer[: end + 1]

    def _line(self, direction: Direction, data: bytes) -> None:
        self.lines.append(InteractionLine(direction, data.decode("utf-8", errors="replace")))

    def finish(self) -> list[InteractionLine]:
        """All lines, an unterminated last line of each side included."""
        with self._lock:
            for direction, buffer in self._partial.items():
                if buffer:
                    self._line(direction, bytes(buffer))
                    buffer.clear()
            return list(self.lines)


class _Side(Dialogue):
    """One run's end of the relay: its output goes to ``out``, its input comes from ``inbox``."""

    def __init__(
        self,
        direction: Direction,
        out: _Stream,
        inbox: _Stream,
        transcript: Transcript,
        ended: Callable[[Direction], None],
    ) -> None:
        self.direction = direction
        self.out = out
        self.inbox = inbox
        self.transcript = transcript
        self.ended = ended
        self._done = False

    def heard(self, chunk: bytes) -> None:
        self.transcript.add(self.direction, chunk)
        self.out.put(chunk)

    def replies(self) -> Iterator[bytes]:
        yield from self.inbox.chunks()

    def hang_up(self) -> None:
        if not self._done:
            self._done = True
            self.ended(self.direction)
        self.inbox.abandon()
        self.out.end()


@dataclass(frozen=True)
class PairResult:
    judge: RunResult
    student: RunResult
    judge_first: bool  # the judge's run ended before the submission's
    transcript: list[InteractionLine]
    transcript_cut: bool


RunWith = Callable[[Dialogue], RunResult]


def run_pair(
    run_judge: RunWith, run_student: RunWith, *, judge_bytes: int, student_bytes: int
) -> PairResult:
    """Start both runs at once, each with its dialogue; both results when both ended.

    ``judge_bytes`` and ``student_bytes`` bound what is relayed from each side
    (their output limits). An exception of either run is raised once both
    are over (the other's input is ended at once, so it does not wait long).
    """
    to_student = _Stream(judge_bytes)
    to_judge = _Stream(student_bytes)
    transcript = Transcript()
    order: list[Direction] = []
    lock = threading.Lock()

    def ended(direction: Direction) -> None:
        with lock:
            order.append(direction)

    judge_side = _Side(Direction.TO_SUBMISSION, to_student, to_judge, transcript, ended)
    student_side = _Side(Direction.FROM_SUBMISSION, to_judge, to_student, transcript, ended)
    results: dict[Direction, RunResult] = {}
    errors: list[BaseException] = []

    def run(side: _Side, runner: RunWith) -> None:
        try:
            results[side.direction] = runner(side)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            errors.append(exc)
        finally:
            side.hang_up()  # if the backend failed before it could

    judge_thread = threading.Thread(
        target=run, args=(judge_side, run_judge), name="assay-judge", daemon=True
    )
    judge_thread.start()
    run(student_side, run_student)
    judge_thread.join()
    if errors:
        raise errors[0]
    return PairResult(
        judge=results[Direction.TO_SUBMISSION],
        student=results[Direction.FROM_SUBMISSION],
        judge_first=order[:1] == [Direction.TO_SUBMISSION],
        transcript=transcript.finish(),
        transcript_cut=transcript.cut,
    )
