"""Runs instructor spec tests (unittest or pytest) against a student's module.

Started as ``python3 -I <harness>/spec_runner.py <harness>`` inside the
student's sandbox. Three kinds of process:

* P, this program's main process, never imports student code. It hides
  itself from same-uid processes (not dumpable), adopts orphans (child
  subreaper), keeps the real stdout as its private result channel and sends
  everything else to stderr. Only P writes results, one authenticated JSON
  line per planned test.
* W, forked by P, loads the spec (which imports the student's module) and,
  for each test P asks for, forks
* W', which runs exactly that test and reports it to P over a pipe.

W and W' run student code: everything they say is untrusted. P enforces a
per-test timeout, kills every leftover process after each test, and reports
a test as failed when its result is missing or malformed.

The result channel: P's stdout is also held by the sandbox's init process,
whose descriptors a student process can reopen. So P's lines carry an HMAC
under a key agreed by Diffie-Hellman with the host (whose public value is in
the plan); P draws its secret after forking W, and before any student code
runs it writes its public value as the channel's first line. No student
process ever holds the key, so a forged line fails the host's check.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import hmac
import json
import math
import os
import secrets
import select
import signal
import sys
import time
import traceback
import unittest
from collections.abc import Callable, Iterator
from typing import Any

PLAN_FILE = "plan.json"
PYTEST_INI = "pytest.ini"
LIB_DIR = "lib"  # first on the spec's path: Assay's gradescope_utils
DECORATORS_MODULE = "gradescope_utils.autograder_utils.decorators"
MAX_SCORE_VALUE = 1e9
# RFC 3526 group 14 (2048-bit MODP), generator 2
MODP_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
GENERATOR = 2
SECRET_BITS = 256
MAX_LINE_BYTES = 3800  # below PIPE_BUF: each of P's lines is written atomically
MAX_MESSAGE_CHARS = 1500
MAX_INBOUND_BYTES = 64 * 1024  # longest line P accepts from W or W'
OUTCOMES = ("passed", "failed", "error", "skipped")
TICK_S = 0.05
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


# -- the channel (shared with the host) ------------------------------------------------
def shared_key(public: int, secret: int) -> bytes:
    """The HMAC key both ends derive from the other's public value and their secret."""
    return hashlib.sha256(pow(public, secret, MODP_PRIME).to_bytes(256, "big")).digest()


def line_mac(key: bytes, seq: int, payload: bytes) -> str:
    return hmac.new(key, b"%d:" % seq + payload, hashlib.sha256).hexdigest()


def valid_public(value: int) -> bool:
    return 1 < value < MODP_PRIME - 1


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ResultChannel:
    """P's authenticated result lines on its private stdout ``fd``.

    Made in P once W is forked: the secret is drawn here, so W never holds it;
    the first line is P's public value, every later one ``<json>\\t<hmac>``.
    """

    def __init__(self, fd: int, host_public: str) -> None:
        secret = secrets.randbits(SECRET_BITS)
        self.key = shared_key(int(host_public, 16), secret)
        self.fd, self.seq = fd, 0
        hello = {"hello": format(pow(GENERATOR, secret, MODP_PRIME), "x")}
        _write_all(fd, json.dumps(hello).encode() + b"\n")

    def emit(self, record: dict[str, Any]) -> None:
        while True:
            payload = json.dumps(record, sort_keys=True).encode()
            line = payload + b"\t" + line_mac(self.key, self.seq, payload).encode() + b"\n"
            message = str(record.get("message", ""))
            if len(line) <= MAX_LINE_BYTES or not message:
                break
            record["message"] = message[: len(message) * 3 // 4] + "..."
        _write_all(self.fd, line)
        self.seq += 1


# -- small helpers -----------------------------------------------------------------------
def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send(fd: int, message: dict[str, Any]) -> None:
    """W and W' to P: one JSON line (errors are the sender's problem)."""
    _write_all(fd, json.dumps(message).encode() + b"\n")


def _lines(fd: int) -> Iterator[str]:
    """Lines read from a pipe (W's requests); ends at end of file."""
    pending = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode("utf-8", "replace")


def _describe(exc_type: type[BaseException], value: BaseException | None, tb: Any) -> str:
    """``Type: message`` and where in the student's files it happened, if anywhere."""
    text = "".join(traceback.format_exception_only(exc_type, value)).strip()
    where = ""
    harness = os.path.dirname(os.path.abspath(__file__))
    for frame, lineno in traceback.walk_tb(tb):
        name = os.path.abspath(frame.f_code.co_filename)
        if name.startswith("/work/") and not name.startswith(harness + "/"):
            where = f" (at {name[len('/work/') :]}:{lineno}, in {frame.f_code.co_name})"
    return bounded(text + where)


def finite_score(value: object) -> float | None:
    """A partial-credit score as sent (untrusted): a number (huge ones cut), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.copysign(math.inf, value)
    if math.isnan(number):
        return None
    return max(-MAX_SCORE_VALUE, min(MAX_SCORE_VALUE, number))


def _reset_score() -> None:
    module = sys.modules.get(DECORATORS_MODULE)
    with contextlib.suppress(Exception):  # student code may have broken the module
        if module is not None:
            module.reset_score()


def _spec_score(spec_dir: str) -> object:
    """The last score the spec's own files set in W' (``None``: none).

    ``set_score`` can be reached by the student's code too (it is passed to the
    test); calls whose caller is not a file of the spec are ignored.
    """
    module = sys.modules.get(DECORATORS_MODULE)
    try:
        recorded = module.recorded_scores() if module is not None else []
        for value, filename in reversed(recorded):
            if isinstance(filename, str) and filename.startswith(spec_dir + os.sep):
                return value
    except Exception:  # noqa: BLE001, S110 - student code may have broken the module
        pass
    return None


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a student may have replaced the stream
            stream.flush()


# -- W: load the spec, fork one W' per requested test -------------------------------------
Problem = tuple[str, str]  # (failed | error | skipped, message)


def _summary(problems: list[Problem], ran: int) -> dict[str, Any]:
    if ran == 0 and not problems:
        return {"outcome": "error", "assertion": False, "message": "the test was not found"}
    if not problems:
        return {"outcome": "passed", "assertion": False, "message": ""}
    kinds = {kind for kind, _ in problems}
    outcome = "failed" if kinds == {"failed"} else ("error" if "error" in kinds else "skipped")
    return {"outcome": outcome, "assertion": outcome == "failed", "message": problems[0][1]}


class _Requests:
    """P's requests as W reads them: ``go``, then one test id per line."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lines = _lines(fd)

    def next(self) -> str | None:
        return next(self._lines, None)


def _serve(
    requests: _Requests, res_fd: int, run_one: Callable[[str], dict[str, Any]], spec_dir: str
) -> None:
    while (test_id := requests.next()) is not None:
        _flush_std()
        pid = os.fork()
        if pid == 0:  # W'
            status = 3
            try:
                os.close(requests.fd)
                _reset_score()
                result = run_one(test_id)
                value = _spec_score(spec_dir)
                if value is not None:  # set, but not a number: it scores 0
                    result["score"] = finite_score(value) or 0.0
                result["id"] = test_id
                _flush_std()
                _send(res_fd, result)
                status = 0
            except BaseException:  # noqa: BLE001 - W' reports any way it ends
                traceback.print_exc()
            finally:
                _flush_std()
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        _send(res_fd, {"id": test_id, "exit": os.waitstatus_to_exitcode(wait_status)})


class _UnittestResult(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[Problem] = []

    def _problem(self, err: Any) -> None:
        exc_type, value, tb = err
        kind = "failed" if issubclass(exc_type, AssertionError) else "error"
        self.problems.append((kind, _describe(exc_type, value, tb)))

    def addError(self, test: Any, err: Any) -> None:  # noqa: N802 - unittest's names
        self._problem(err)

    def addFailure(self, test: Any, err: Any) -> None:  # noqa: N802
        self._problem(err)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:  # noqa: N802
        if err is not None:
            self._problem(err)

    def addSkip(self, test: Any, reason: str) -> None:  # noqa: N802
        self.problems.append(("skipped", bounded(f"skipped: {reason}")))

    def addUnexpectedSuccess(self, test: Any) -> None:  # noqa: N802
        self.problems.append(("error", "passed, but was expected to fail"))


def _qualname_of(function: Any) -> str:
    return str(getattr(function, "__qualname__", ""))


def _load_unittest(plan: dict[str, Any], harness: str) -> dict[str, list[Any]]:
    import importlib.util  # noqa: PLC0415 - W only

    path = os.path.join(harness, plan["spec"])
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    index: dict[str, list[Any]] = {}
    pending: list[Any] = [unittest.defaultTestLoader.loadTestsFromModule(module)]
    while pending:
        item = pending.pop()
        if isinstance(item, unittest.TestSuite):
            pending.extend(item)
            continue
        method = getattr(type(item), getattr(item, "_testMethodName", ""), None)
        index.setdefault(_qualname_of(method), []).append(item)
    return index


def _run_unittest(cases: list[Any]) -> dict[str, Any]:
    result = _UnittestResult()
    unittest.TestSuite(cases).run(result)
    return _summary(result.problems, result.testsRun)


def _collector_unittest(
    plan: dict[str, Any], harness: str, requests: _Requests, res_fd: int
) -> None:
    try:
        index = _load_unittest(plan, harness)
    except BaseException as exc:  # noqa: BLE001 - the student's import may raise anything
        message = _describe(type(exc), exc, exc.__traceback__)
        _send(res_fd, {"ready": False, "error": f"the tests could not be loaded: {message}"})
        return
    _send(res_fd, {"ready": True})
    spec_dir = os.path.dirname(os.path.join(harness, plan["spec"]))
    _serve(requests, res_fd, lambda test_id: _run_unittest(index.get(test_id, [])), spec_dir)


class _PytestPlugin:
    """Collects in W; serves requests from ``pytest_runtestloop``; runs items in W'."""

    def __init__(self, requests: _Requests, res_fd: int, spec_dir: str) -> None:
        self.requests, self.res_fd, self.spec_dir = requests, res_fd, spec_dir
        self.problems: list[Problem] = []
        self.collect_errors: list[str] = []
        self.ready_sent = False

    def pytest_configure(self, config: Any) -> None:
        # keep the terminal plugin's options, drop its output (stdout is the student's)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            config.pluginmanager.unregister(reporter)

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            text = str(report.longreprtext)[-MAX_MESSAGE_CHARS // 2 :]
            self.collect_errors.append(text.partition("\n")[2] if "\n" in text else text)

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        excinfo = call.excinfo
        if excinfo is None:
            return
        import pytest  # noqa: PLC0415 - imported by P before W was forked

        if excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            self.problems.append(("skipped", bounded(f"skipped: {excinfo.value}")))
            return
        kind = "failed" if excinfo.errisinstance(AssertionError) else "error"
        where = _describe(excinfo.type, excinfo.value, excinfo.tb).partition(" (at ")[2]
        text = str(excinfo.exconly())
        self.problems.append((kind, bounded(text + (f" (at {where}" if where else ""))))

    def _run(self, items: list[Any]) -> dict[str, Any]:
        for position, item in enumerate(items):
            following = items[position + 1] if position + 1 < len(items) else None
            item.ihook.pytest_runtest_protocol(item=item, nextitem=following)
        return _summary(self.problems, len(items))

    def pytest_runtestloop(self, session: Any) -> bool:
        index: dict[str, list[Any]] = {}
        for item in session.items:
            function = getattr(item, "function", None)
            index.setdefault(_qualname_of(function), []).append(item)
        errors = "\n".join(self.collect_errors)
        self.ready_sent = True
        if not index:
            message = f"the tests could not be loaded: {errors or 'no tests were collected'}"
            _send(self.res_fd, {"ready": False, "error": message})
            return True
        _send(self.res_fd, {"ready": True})
        _serve(
            self.requests,
            self.res_fd,
            lambda test_id: self._run(index.get(test_id, [])),
            self.spec_dir,
        )
        return True


def _collector_pytest(plan: dict[str, Any], harness: str, requests: _Requests, res_fd: int) -> None:
    import pytest  # noqa: PLC0415 - imported by P before W was forked

    pytest.hookimpl(tryfirst=True)(_PytestPlugin.pytest_runtestloop)
    pytest.hookimpl(trylast=True)(_PytestPlugin.pytest_configure)
    spec_dir = os.path.dirname(os.path.join(harness, plan["spec"]))
    plugin = _PytestPlugin(requests, res_fd, spec_dir)
    args = [
        os.path.join(harness, plan["spec"]),
        "-c",
        os.path.join(harness, PYTEST_INI),
        "--rootdir",
        harness,
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-s",
        "-q",
    ]
    try:
        stopped = f"exit code {pytest.main(args, plugins=[plugin])}"
    except BaseException as exc:  # noqa: BLE001
        stopped = f"{type(exc).__name__}: {exc}"
    if not plugin.ready_sent:
        error = "\n".join(plugin.collect_errors) or f"pytest stopped ({stopped})"
        _send(res_fd, {"ready": False, "error": f"the tests could not be loaded: {error}"})


def _collector(plan: dict[str, Any], harness: str, req_fd: int, res_fd: int) -> None:
    """W's life: wait for P's go, add the student's directory, load, serve."""
    requests = _Requests(req_fd)
    if requests.next() != "go":
        return
    sys.path.insert(0, os.path.join(harness, LIB_DIR))  # Assay's gradescope_utils only
    sys.path.append(plan["module_dir"])  # last: the standard library always wins
    if plan["mode"] == "pytest":
        _collector_pytest(plan, harness, requests, res_fd)
    else:
        _collector_unittest(plan, harness, requests, res_fd)


# -- P ----------------------------------------------------------------------------------
class Runner:
    """P: asks W for each test, waits with a timeout, cleans up, reports."""

    def __init__(self, plan: dict[str, Any], channel: int, req_fd: int, res_fd: int, w: int):
        self.plan, self.channel, self.req_fd, self.res_fd = plan, channel, req_fd, res_fd
        self.w: int | None = w
        self.w_exit = ""
        self.out: ResultChannel | None = None
        self.pending = b""
        self.messages: list[dict[str, Any]] = []

    # output
    def handshake(self) -> None:
        self.out = ResultChannel(self.channel, self.plan["host_public"])

    def emit(self, record: dict[str, Any]) -> None:
        if self.out is None:
            raise RuntimeError("a result before the handshake")
        self.out.emit(record)

    # processes
    def _reap(self) -> None:
        for pid, status in reaped():
            if pid == self.w:
                self.w = None
                code = os.waitstatus_to_exitcode(status)
                self.w_exit = f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def _others(self) -> list[int]:
        """P's live descendants other than W: W' and whatever it left behind."""
        return descendants(but=self.w)

    def cleanup(self, *, including_w: bool = False) -> None:
        """Kill every process P's tree holds but W (and W too if asked)."""
        if including_w and self.w is not None:
            _kill(self.w)
        kill_below(self._reap, self._others)

    # input from W and W'
    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next message from W or W' before ``deadline``, else ``None``."""
        if time.monotonic() >= deadline:  # a flood of messages must not stop the clock
            return None
        while not self.messages:
            self._reap()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.res_fd], [], [], min(TICK_S, remaining))
            if not ready:
                if self.w is None and not self._others():
                    return None  # nobody is left who could answer
                continue
            chunk = os.read(self.res_fd, 65536)
            if not chunk:
                return None
            self._split(chunk)
        return self.messages.pop(0)

    def _split(self, chunk: bytes) -> None:
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        if len(self.pending) > MAX_INBOUND_BYTES:
            self.pending = b""
        for line in lines:
            if len(line) > MAX_INBOUND_BYTES:
                continue
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(message, dict):
                self.messages.append(message)

    def _drain(self) -> None:
        """Forget what came before this test (bounded: W may write without end)."""
        self.messages.clear()
        for _ in range(64):
            if not select.select([self.res_fd], [], [], 0)[0]:
                break
            if not os.read(self.res_fd, 65536):
                break
        self.pending = b""

    # the run
    def load(self) -> str | None:
        """Let W load the tests; the reason they cannot run, or ``None``."""
        try:
            _write_all(self.req_fd, b"go\n")
        except OSError:
            return "the test runner could not start"
        deadline = time.monotonic() + float(self.plan["load_timeout_s"])
        while True:
            message = self._read(deadline)
            if message is None:
                if time.monotonic() >= deadline:
                    return f"loading the tests took longer than {self.plan['load_timeout_s']} s"
                return f"the tests could not be loaded: the process exited ({self.w_exit})"
            if "ready" in message:
                if message["ready"] is True:
                    return None
                return bounded(str(message.get("error", "the tests could not be loaded")))

    def run_test(self, test_id: str) -> dict[str, Any]:  # noqa: PLR0911
        self._drain()
        timeout_s = float(self.plan["timeout_s"])
        if self.w is None:
            return _error(f"not run: the test runner stopped ({self.w_exit})")
        try:
            os.set_blocking(self.req_fd, False)
            _write_all(self.req_fd, test_id.encode() + b"\n")
        except OSError:
            return _error("not run: the test runner stopped responding")
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._read(deadline)
            if message is None:
                if time.monotonic() < deadline:
                    return _error("the test process ended without a result")
                if not self._others():  # W itself is not serving: stop it
                    self.cleanup(including_w=True)
                return {
                    "outcome": "timeout",
                    "assertion": False,
                    "message": f"took longer than {timeout_s:g} s",
                }
            if message.get("id") != test_id:
                continue
            if "outcome" in message:
                return _checked(message)
            if "exit" in message:
                code = message["exit"]
                if isinstance(code, int) and code < 0:
                    record = _error(f"the test process was killed by signal {-code}")
                    return record | {"outcome": "crashed", "signal": -code}
                return _error(f"the test process exited (status {code}) without a result")

    def run(self) -> None:
        ids = [str(i) for i in self.plan["ids"]]
        reason = self.load()
        for test_id in ids:
            started = time.monotonic()
            record = _error(reason) if reason is not None else self.run_test(test_id)
            self.cleanup(including_w=reason is not None)
            record["id"] = test_id
            record["wall_s"] = round(time.monotonic() - started, 4)
            self.emit(record)
        self.cleanup(including_w=True)
        self.emit({"done": True, "count": len(ids)})


def _error(message: str) -> dict[str, Any]:
    return {"outcome": "error", "assertion": False, "message": bounded(message)}


def _checked(message: dict[str, Any]) -> dict[str, Any]:
    """A W' report, reduced to the fields P passes on (W' is untrusted)."""
    outcome = message.get("outcome")
    text = message.get("message", "")
    if outcome not in OUTCOMES or not isinstance(text, str):
        return _error("the test process sent a malformed result")
    assertion = message.get("assertion") is True and outcome == "failed"
    checked = {"outcome": outcome, "assertion": assertion, "message": bounded(text)}
    score = finite_score(message.get("score"))
    if score is not None:
        checked["score"] = score
    return checked


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def reaped() -> Iterator[tuple[int, int]]:
    """``(pid, wait status)`` of each of P's children that has ended (never blocks)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def descendants(but: int | None = None) -> list[int]:
    """P's live descendants, ``but`` one (it is not killed, its descendants are).

    P is a child subreaper, so orphans stay below it; nothing outside its
    tree is ever touched (which also keeps a run outside a sandbox safe).
    """
    children: dict[int, list[int]] = {}
    alive: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
            state, ppid = fields[0], int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
        if state != b"Z":
            alive.add(int(name))
    found: list[int] = []
    pending = list(children.get(os.getpid(), []))
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        if pid != but and pid in alive:
            found.append(pid)
    return found


def kill_below(reap: Callable[[], None], victims: Callable[[], list[int]]) -> None:
    """Kill what ``victims`` lists until it is empty twice in a row (reaping between)."""
    quiet = 0
    for _ in range(500):
        reap()
        found = victims()
        quiet = 0 if found else quiet + 1
        if quiet == 2:  # twice empty: no parent vanished between two reads
            return
        for pid in found:
            _kill(pid)
        time.sleep(0.002)


def _harden() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def read_plan(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The harness directory (``argv[1]``) and the plan the host put in it."""
    harness = os.path.abspath(argv[1])
    with open(os.path.join(harness, PLAN_FILE), "rb") as file:
        return harness, json.loads(file.read(4 * 1024 * 1024))


def private_stdout() -> int:
    """The result channel, a copy of stdout only P holds; fd 1 becomes stderr, fd 0 null."""
    channel = os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return channel


Collector = Callable[[dict[str, Any], str, int, int], None]  # (plan, harness, req_fd, res_fd)


def run_split(
    plan: dict[str, Any], harness: str, collector: Collector, runner: type[Runner]
) -> int:
    """Fork W (which runs ``collector``), then run the plan's tests from P."""
    channel = private_stdout()
    req_r, req_w = os.pipe()
    res_r, res_w = os.pipe()
    _flush_std()
    w = os.fork()
    if w == 0:  # W
        status = 0
        try:
            for fd in (channel, req_w, res_r):
                os.close(fd)
            collector(plan, harness, req_r, res_w)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            status = 3
        finally:
            _flush_std()
            os._exit(status)
    os.close(req_r)
    os.close(res_w)
    p = runner(plan, channel, req_w, res_r, w)
    p.handshake()  # the secret is drawn after the fork: W never holds it
    p.run()
    return 0


def main(argv: list[str]) -> int:
    harness, plan = read_plan(argv)
    _harden()
    sys.dont_write_bytecode = True
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DEBUG"):
        os.environ.pop(name, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if plan["mode"] == "pytest":
        import pytest  # noqa: F401, PLC0415 - before any student path is on sys.path
    return run_split(plan, harness, _collector, Runner)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
