#!/usr/bin/env bash
# Quickstart, part 1: set up, prove this host's sandbox works, then run the platform
# with a demo course on the embedded defaults (SQLite, in-process workers, native
# sandbox) until Ctrl-C. Extra arguments go to `assay serve` (e.g. --host 0.0.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
assay=.venv/bin/assay
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "assay sandbox check"
"$assay" sandbox check

say "The sandbox contains a fork bomb, a memory bomb and an endless loop"
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
"$assay" sandbox run --memory 64m -- python3 -c 'x = bytearray(1 << 30)' || true
"$assay" sandbox run --cpu-time 1 -- python3 -c 'while True: pass' || true

say "Starting the server with the demo course: open the web UI address it prints and log in (Ctrl-C stops it)"
exec "$assay" serve --demo "$@"
