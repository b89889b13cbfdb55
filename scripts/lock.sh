#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml's ranges (docs/development.md):
#
#   requirements.lock       the application's dependencies, exact (==) pins: what
#                           scripts/setup.sh, CI and the container images install
#   requirements-dev.lock   the same plus the `dev` extra (tests, linters); every pin
#                           that is in requirements.lock is the same here
#
#   scripts/lock.sh                keep every pin that still satisfies pyproject.toml; pin
#                                  only what is new or out of range (after editing a range)
#   scripts/lock.sh --upgrade      move every package to the newest version in range
#   scripts/lock.sh --upgrade-package NAME [--upgrade-package NAME2 ...]
#                                  move only those
#
# Runs pip-compile (pip-tools, pinned in the dev extra) from .venv; install the dev
# tools first (scripts/setup.sh --dev). Resolves for this interpreter (CPython >= 3.11 on
# Linux, as the images run). tests/distribution/test_lock.py checks that the locks cover
# and satisfy pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_COMPILE=.venv/bin/pip-compile
if [ ! -x "$PIP_COMPILE" ]; then
    echo "lock.sh: $PIP_COMPILE is missing: run scripts/setup.sh --dev first" >&2
    exit 1
fi

options=(--quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links
         --resolver=backtracking --newline=LF)
for arg in "$@"; do
    case "$arg" in
        --upgrade|--upgrade-package|--upgrade-package=*) ;;
        -*) echo "lock.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

export CUSTOM_COMPILE_COMMAND="scripts/lock.sh"
"$PIP_COMPILE" "${options[@]}" "$@" --output-file requirements.lock pyproject.toml
# The dev lock starts from the application's pins (-c): a test run installs exactly
# what the images install, plus the tools.
"$PIP_COMPILE" "${options[@]}" "$@" --extra dev --constraint requirements.lock \
    --output-file requirements-dev.lock pyproject.toml
echo "lock.sh: requirements.lock and requirements-dev.lock written"
