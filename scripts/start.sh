#!/usr/bin/env bash
# Quickstart, part 1: set up, check this host's isolation, and run a demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
assay=.venv/bin/assay
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "assay sandbox check"
"$assay" sandbox check

say "A well-behaved program"
"$assay" sandbox run -- python3 -c 'print("hello from the sandbox")'

say "A fork bomb (pids limit)"
"$assay" sandbox run --pids 32 --wall-time 3 -- python3 -c '
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(10)
            os._exit(0)
        n += 1
except OSError as exc:
    print("fork refused after", n, "children:", exc.strerror)
' || true

say "A memory bomb (memory limit, JSON verdict)"
"$assay" sandbox run --memory 64m --json -- python3 -c 'x = bytearray(1 << 30)' || true

say "An endless loop (CPU time limit)"
"$assay" sandbox run --cpu-time 1 -- python3 -c 'while True: pass' || true

say "Trying to reach the network and the host"
"$assay" sandbox run -- sh -c 'cat /etc/shadow; ls /root; python3 -c "import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=2)" 2>&1 | tail -1' || true

say "Grading the python-io example: the reference solution, then a wrong answer"
"$assay" grade examples/assignments/python-io examples/assignments/python-io/solution
"$assay" grade examples/assignments/python-io examples/assignments/python-io/bad/wrong-answer

say "Done. See README.md and docs/ for more."
