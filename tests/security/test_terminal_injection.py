"""A run on a terminal cannot type into any terminal but its own (TIOCSTI), nor retune it.

The grading process here runs in a session whose controlling terminal is a
pty of the test's: were a sandboxed program able to inject input into it
(TIOCSTI on an inherited terminal, on ``/dev/tty``), the text would be
waiting on that terminal's input queue afterwards, where the grader's own
TIOCSTI (the control) is found. Each backend, each kind of standard streams
(pipes, a terminal of the run's own), is tried.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from helpers import require_backend

PAYLOAD = "touch /tmp/assay-pwned\n"

PROBE = r"""
import errno, fcntl, json, os, struct, termios
found = {}
targets = {"fd0": 0, "fd1": 1, "fd2": 2}
try:
    targets["/dev/tty"] = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
except OSError as exc:
    found["/dev/tty"] = "open:" + errno.errorcode[exc.errno]
for name, fd in targets.items():
    try:
        for ch in PAYLOAD.encode():
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        found[name] = "injected"
    except OSError as exc:
        found[name] = errno.errorcode[exc.errno]
try:
    fcntl.ioctl(0, termios.TIOCSETD, struct.pack("i", 0))
    found["setd"] = "changed"
except OSError as exc:
    found["setd"] = errno.errorcode[exc.errno]
print(json.dumps(found))
""".replace("PAYLOAD", repr(PAYLOAD))

# Run with the test's pty as its controlling terminal: grade, then see what is waiting on it.
GRADER = r"""
import fcntl, json, os, select, sys, termios
from assay.sandbox import Sandbox
backend, probe, report = sys.argv[1], sys.argv[2], sys.argv[3]
for ch in b"control\n":  # the control: what the grader types itself is seen below
    fcntl.ioctl(0, termios.TIOCSTI, bytes([ch]))
found = {}
with Sandbox("python3", backend=backend) as box:
    for terminal in (False, True):
        result = box.run(["python3", "-c", probe], terminal=terminal)
        found[str(terminal)] = result.stdout.decode(errors="replace")
typed = ""
while select.select([0], [], [], 0.3)[0]:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    typed += chunk.decode(errors="replace")
with open(report, "w") as f:
    json.dump({"runs": found, "typed": typed}, f)
"""


def _attach_terminal() -> None:
    """In the grader: become a session leader with stdin (the test's pty) as its terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("backend_name", ["native", "docker"])
def test_no_injection_into_the_graders_terminal(backend_name: str, tmp_path: Path) -> None:
    require_backend(backend_name)
    master, slave = os.openpty()
    report = tmp_path / "report.json"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", GRADER, backend_name, PROBE, str(report)],
            stdin=slave,
            capture_output=True,
            start_new_session=True,
            preexec_fn=_attach_terminal,
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    found = json.loads(report.read_text())
    # the grader's own typing (the control) is there: anything else was typed from a sandbox
    assert found["typed"] == "control\n", found["typed"]
    for terminal, stdout in found["runs"].items():
        attempts = json.loads(stdout.strip().splitlines()[-1])
        for target, outcome in attempts.items():
            assert outcome != "injected", (terminal, target, attempts)
        # refused by the seccomp filter, on a pipe as on the run's own terminal
        assert attempts["fd0"] == "EPERM", (terminal, attempts)
        assert attempts["setd"] == "EPERM", (terminal, attempts)
        # no controlling terminal on the native backend; Docker's is the run's own pty
        assert attempts["/dev/tty"] in ("open:ENXIO", "EPERM"), (terminal, attempts)
