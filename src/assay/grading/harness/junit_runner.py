"""Runs instructor JUnit tests (JUnit 5 and 4) in a JVM it supervises, and reports them.

Started as ``python3 -E -s <harness>/junit_runner.py <harness>`` inside the
student's sandbox (not ``-I``: this file imports ``spec_runner`` from its own
read-only directory, which ``-I`` would leave off ``sys.path``). Two kinds of
process:

* P, this program, never loads student code. As the spec runner's P it hides
  itself from same-uid processes, adopts orphans, keeps the real stdout as
  its private result channel (each line authenticated by an HMAC under a key
  agreed by Diffie-Hellman with the host: ``spec_runner``'s channel) and
  sends everything else to stderr.
* W, a JVM running ``assay.junit.Agent`` with the student's classes. W gets
  a random token from P on its stdin, compiles the instructor's sources in
  memory (before any student code runs), and reports the compilation and
  each test's start and end on its descriptor 3, one line ``<token> <json>``.
  W runs student code: everything it says is untrusted. A line without the
  token (a forgery written blindly, through ``System.out``, the descriptor or
  ``/proc/self/fd``) is ignored, and flags the run as tampered.

P enforces the per-test timeout (kills W and everything it started), and
when W ends early (``System.exit``, a crash, a timeout) starts a new W for
the tests not yet reported, up to ``max_starts`` JVMs. It reports every
planned test exactly once, in the plan's order, then ``done``.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from spec_runner import (  # type: ignore[import-not-found]  # next to this file
    MAX_INBOUND_BYTES,
    MAX_MESSAGE_CHARS,
    ResultChannel,
    _harden,
    _kill,
    _write_all,
    bounded,
    descendants,
    kill_below,
    private_stdout,
    read_plan,
    reaped,
)

NOTES_ID = "assay:notes"  # the record that carries P's notes to the host's staff view
TOKEN_BYTES = 24
TICK_S = 0.05
EXIT_GRACE_S = 2.0  # how long a JVM that closed its report pipe may take to exit
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3, "timeout": 4, "crashed": 5}


@dataclass
class Result:
    """One test method's result so far (a parameterized method reports several times)."""

    outcome: str = "passed"
    assertion: bool = False
    message: str = ""
    wall_s: float = 0.0
    signal: int | None = None

    def merge(self, outcome: str, assertion: bool, message: str) -> None:
        if RANK.get(outcome, 3) > RANK[self.outcome]:
            self.outcome, self.assertion, self.message = outcome, assertion, message


@dataclass
class Run:
    """What P knows across the JVMs it started."""

    plan: dict[str, Any]
    results: dict[str, Result] = field(default_factory=dict)
    class_errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    forged: int = 0
    compile_error: str | None = None  # javac's messages when the tests do not compile
    finished: bool = False  # a JVM said done: every selected test was reported

    @property
    def planned(self) -> list[str]:
        return [str(i) for i in self.plan["ids"]]


# -- processes ---------------------------------------------------------------------------
def _reap_all() -> None:
    for _ in reaped():
        pass


def _cleanup() -> None:
    """Kill everything below P (twice empty in a row: nobody escaped between reads)."""
    kill_below(_reap_all, descendants)


def _start(plan: dict[str, Any], done: list[str], token: str) -> tuple[int, int]:
    """Fork and exec W; its pid and P's end of W's report pipe."""
    argv = [
        *plan["java"],
        "-cp",
        plan["classpath"],
        "assay.junit.Agent",
        plan["harness"],
        *done,
        "--",
        *plan["classes"],
    ]
    token_r, token_w = os.pipe()
    report_r, report_w = os.pipe()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # W: exec at once, no Python code of P's runs here after this
        try:
            os.dup2(token_r, 0)
            os.dup2(2, 1)
            os.dup2(report_w, 3)
            os.closerange(4, 1 << 16)
            os.chdir(plan["cwd"])
            os.execvp(argv[0], argv)  # noqa: S606 - the java the plan names, argv as given
        finally:
            os._exit(127)
    os.close(token_r)
    os.close(report_w)
    _write_all(token_w, token.encode() + b"\n")
    os.close(token_w)
    return pid, report_r


# -- one JVM -------------------------------------------------------------------------------
class Jvm:
    """Reads one W's reports until it says done, ends, or a deadline passes."""

    def __init__(self, run: Run, pid: int, fd: int, token: str) -> None:
        self.run, self.pid, self.fd = run, pid, fd
        self.prefix = token.encode() + b" "
        self.pending = b""
        self.current: str | None = None
        self.started = 0.0
        self.exit = ""

    def watch(self) -> str | None:
        """Follow W; the test it was in when it had to be stopped or ended, if any."""
        timeout_s = float(self.run.plan["timeout_s"])
        idle_s = float(self.run.plan["idle_timeout_s"])
        last = time.monotonic()
        while not self.run.finished:
            now = time.monotonic()
            deadline = self.started + timeout_s if self.current else last + idle_s
            if now >= deadline:
                self.exit = "stopped: no report in time"
                if self.current:
                    result = self.run.results.setdefault(self.current, Result())
                    result.merge("timeout", False, f"took longer than {timeout_s:g} s")
                    result.wall_s += now - self.started
                return self.current or "(between tests)"
            ready, _, _ = select.select([self.fd], [], [], min(TICK_S, deadline - now))
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return self.current
            last = time.monotonic()
            self._split(chunk)
        return None

    def _split(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if len(self.pending) > MAX_INBOUND_BYTES:
            self.pending = b""
            self.run.forged += 1
        for line in lines:
            if not line.startswith(self.prefix) or len(line) > MAX_INBOUND_BYTES:
                self.run.forged += 1
                continue
            try:
                message = json.loads(line[len(self.prefix) :])
            except (ValueError, RecursionError):
                message = None
            if isinstance(message, dict):
                self._event(message)
            else:
                self.run.notes.append("a malformed report from the test JVM")

    def _event(self, message: dict[str, Any]) -> None:
        event, key = message.get("event"), message.get("test")
        if message.get("done") is True:
            self.run.finished = True
        elif event == "start" and isinstance(key, str):
            self.current, self.started = key, time.monotonic()
        elif event == "end" and isinstance(key, str):
            outcome, text = message.get("outcome"), message.get("message", "")
            if outcome not in ("passed", "failed", "error", "skipped") or not isinstance(text, str):
                outcome, text = "error", "the test's result was malformed"
            result = self.run.results.setdefault(key, Result())
            result.merge(outcome, message.get("assertion") is True, bounded(text))
            if key == self.current:
                result.wall_s += time.monotonic() - self.started
                self.current = None
        elif event == "compiled" and message.get("ok") is not True:
            self.run.compile_error = bounded(str(message.get("message", "")))
        elif event == "class" and isinstance(message.get("class"), str):
            text = message.get("message", "")
            self.run.class_errors[message["class"]] = bounded(str(text))

    def ended(self) -> None:
        """Reap W and everything it started; W gets a moment to finish exiting on its own
        (so that ``System.exit(0)`` reads as exit status 0) unless P stopped it."""
        grace = time.monotonic() + (0 if self.exit else EXIT_GRACE_S)
        status = None
        while status is None:
            try:
                pid, wait_status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == self.pid:
                status = wait_status
            elif time.monotonic() >= grace:
                _kill(self.pid)
                status = os.waitpid(self.pid, 0)[1]
            else:
                time.sleep(TICK_S / 5)
        if status is not None and not self.exit:
            code = os.waitstatus_to_exitcode(status)
            self.exit = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        os.close(self.fd)
        _cleanup()


def _died_in(run: Run, key: str, jvm: Jvm) -> None:
    result = run.results.setdefault(key, Result())
    if result.outcome == "timeout":
        return
    text = f"the test JVM ended during this test ({jvm.exit}): System.exit, Runtime.halt or a crash"
    if jvm.exit.startswith("killed by signal "):
        result.merge("crashed", False, text)
        result.signal = int(jvm.exit.rpartition(" ")[2])
    else:
        result.merge("error", False, text)


def _class_of(key: str) -> str:
    return key.partition("#")[0]


def run_all(run: Run) -> None:
    starts = 0
    while not run.finished and starts < int(run.plan["max_starts"]):
        starts += 1
        token = secrets.token_hex(TOKEN_BYTES)
        pid, fd = _start(run.plan, sorted(run.results), token)
        jvm = Jvm(run, pid, fd, token)
        stopped_in = jvm.watch()
        jvm.ended()
        if stopped_in is not None and stopped_in != "(between tests)":
            _died_in(run, stopped_in, jvm)
        if not run.finished:
            run.notes.append(f"test JVM {starts} ended early ({jvm.exit})")
            if stopped_in is None or stopped_in == "(between tests)":
                break  # it ended outside any test: a new JVM would end the same way
    if not run.finished:
        run.notes.append("the tests were not all run")


def _record(run: Run, key: str) -> dict[str, Any]:
    result = run.results.get(key)
    if result is None:
        error = run.class_errors.get(_class_of(key))
        if run.compile_error is not None:
            message = f"the tests do not compile against your code:\n{run.compile_error}"
        elif error is not None:
            message = f"the test class failed before this test ran: {error}"
        elif run.finished:
            message = "the test was not found in the compiled test classes"
        else:
            message = "not run: the test JVM ended before this test (see the tests before it)"
        return {"outcome": "error", "assertion": False, "message": bounded(message)}
    record: dict[str, Any] = {
        "outcome": result.outcome,
        "assertion": result.assertion and result.outcome == "failed",
        "message": result.message,
        "wall_s": round(result.wall_s, 4),
    }
    if result.signal is not None:
        record["signal"] = result.signal
    return record


def main(argv: list[str]) -> int:
    harness, plan = read_plan(argv)
    plan["classpath"] = f"{harness}/classes:{plan['classpath']}"  # ours first: never shadowed
    plan["harness"] = harness
    _harden()
    channel = ResultChannel(private_stdout(), plan["host_public"])
    run = Run(plan)
    try:
        run_all(run)
    finally:
        _cleanup()
    for key in run.planned:
        channel.emit({"id": key, **_record(run, key)})
    if run.forged:
        run.notes.append(
            f"{run.forged} line(s) without the run's token on the test JVM's report pipe"
        )
    notes = "\n".join(run.notes)
    # "failed": someone else wrote on the report pipe (only code in the test JVM can)
    outcome = "failed" if run.forged else "passed"
    channel.emit({"id": NOTES_ID, "outcome": outcome, "message": bounded(notes, MAX_MESSAGE_CHARS)})
    channel.emit({"done": True, "count": len(run.planned)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
