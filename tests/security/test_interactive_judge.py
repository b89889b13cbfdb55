"""A submission cannot alter an interactive judge's verdict: it tries to write the judge's
files (input, answer, feedback), to signal or kill the judge, and to read its input; the
verdict stays the judge's (native and Docker).

The judge holds a fresh secret in its input and answer files; it sends ``ready``, reads
one guess and rejects anything but the secret, reading the answer file only after the
guess (so an overwritten answer would count). Had an attack worked, the test would pass
(a found or planted secret), or be an ``error`` (a killed judge).
"""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest

from assay.files.fileset import FileSet
from assay.grading.engine import grade
from assay.grading.loader import load_package
from assay.grading.outcome import TestStatus
from assay.grading.report import ReportStatus
from assay.sandbox.backends import get_backend

JUDGE = """
import sys
infile, ansfile, feedback = sys.argv[1:4]
secret = open(infile).read().strip()
print("ready", flush=True)
line = sys.stdin.readline()
guess = line.split(" | ")[0].strip()
if guess == open(ansfile).read().strip() == secret:
    open(feedback + "teammessage.txt", "w").write("right secret")
    sys.exit(42)
open(feedback + "teammessage.txt", "w").write("wrong secret")
sys.exit(43)
"""

# What every attacker shares: places the judge's files could be, seen from the student's box.
COMMON = """
import glob, os, re, signal, sys, time
input()  # "ready": the judge is running now, waiting for our line
PLACES = [
    "/work/interactive/*", "/work/interactive/*/feedback-*", "/work/judge*", "/work/*",
    "/proc/*/root/work/interactive/*", "/proc/*/root/work/interactive/*/feedback-*",
    "/proc/*/cwd", "/proc/*/cwd/../interactive/*", "/tmp", "/tmp/*", "/var/tmp/*",
    "/dev/shm", "/dev/shm/*", "/run/*",
]
notes = []

def places():
    for pattern in PLACES:
        try:
            yield from glob.glob(pattern)
        except OSError:
            pass

def say(guess):
    print(guess + " | " + "; ".join(notes)[:2000], flush=True)
"""

TAMPER = """
for place in list(places()):
    for name in ("input", "answer", "teammessage.txt", "judgemessage.txt"):
        target = os.path.join(place, name) if os.path.isdir(place) else place
        try:
            with open(target, "w") as f:
                f.write("pwned")
            notes.append(f"wrote {target}")
        except OSError as exc:
            notes.append(f"{target}: {type(exc).__name__}")
say("pwned")
"""

SIGNAL = """
me = os.getpid()
for sig in (signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(-1, sig)
        notes.append(f"kill(-1, {sig}) sent")
    except OSError as exc:
        notes.append(f"kill(-1): {exc}")
    for entry in glob.glob("/proc/[0-9]*"):
        pid = int(entry.rsplit("/", 1)[1])
        if pid in (me, 1):
            continue
        try:
            os.kill(pid, sig)
            notes.append(f"signalled {pid}")
        except OSError as exc:
            notes.append(f"{pid}: {type(exc).__name__}")
time.sleep(0.5)
say("no idea")
"""

READ = """
found = None
deadline = time.monotonic() + 2
candidates = list(places()) + glob.glob("/proc/*/fd/*")
roots = ["/work", "/tmp", "/var", "/home", "/root", "/run", "/opt", "/srv", "/mnt"]
for root in roots:
    for folder, dirs, files in os.walk(root):
        candidates.extend(os.path.join(folder, f) for f in files)
        if time.monotonic() > deadline:
            break
for path in candidates:
    if os.path.isdir(path):
        candidates.extend(os.path.join(path, n) for n in ("input", "answer"))
        continue
    if not os.path.isfile(path):  # a pipe (our own stdin) would block
        continue
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except OSError:
        continue
    match = re.search(rb"SECRET-[0-9a-f]{24}", data)
    if match:
        found = match.group().decode()
        notes.append(f"found it in {path}")
        break
notes.append(f"looked at {len(candidates)} paths")
say(found or "not found")
"""


def write_package(root: Path, secret: str) -> Path:
    files = {
        "assignment.toml": textwrap.dedent(
            """
            [assignment]
            name = "secret"
            [limits]
            cpu_time_s = 5
            wall_time_s = 8
            [run]
            command = ["python3", "main.py"]
            [[tests]]
            name = "secret"
            kind = "interactive"
            judge = "judge/judge.py"
            input_file = "data/secret.in"
            answer_file = "data/secret.ans"
            """
        ),
        "statement.md": "# Guess the secret\n",
        "judge/judge.py": JUDGE,
        "data/secret.in": secret + "\n",
        "data/secret.ans": secret + "\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(
    "attack", [TAMPER, SIGNAL, READ], ids=["write-judge-files", "signal-judge", "read-input"]
)
def test_the_verdict_stays_the_judges(backend_name: str, tmp_path: Path, attack: str) -> None:
    secret = f"SECRET-{secrets.token_hex(12)}"
    package_dir = write_package(tmp_path, secret)
    with load_package(package_dir) as package:
        report = grade(
            package,
            FileSet.from_mapping({"main.py": COMMON + attack}),
            backend=get_backend(backend_name),
        )
    assert report.status is ReportStatus.GRADED, report.staff_error
    (test,) = report.tests
    # the judge ran to its end (no error), kept its files, and the secret stayed with it
    assert (test.status, test.message) == (TestStatus.FAILED, "wrong secret"), test
    assert "exited with status 43" in (test.staff_detail or ""), test
    assert secret not in test.output, test.output


def test_the_reading_attack_finds_a_secret_within_its_reach(
    backend_name: str, tmp_path: Path
) -> None:
    """The control: the same search finds the secret in the submission's own files."""
    secret = f"SECRET-{secrets.token_hex(12)}"
    with load_package(write_package(tmp_path, secret)) as package:
        report = grade(
            package,
            FileSet.from_mapping({"main.py": COMMON + READ, "notes/leak.txt": f"x {secret} y"}),
            backend=get_backend(backend_name),
        )
    (test,) = report.tests
    assert (test.status, test.message) == (TestStatus.PASSED, "right secret"), test
