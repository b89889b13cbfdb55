#!/usr/bin/env bash
# Quickstart, part 2: set up everything (Docker and its images included) and run
# the checks and the whole test suite on both sandbox backends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev --docker
export ASSAY_REQUIRE_NATIVE=1 ASSAY_REQUIRE_DOCKER=1
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say "ruff"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
say "mypy"
.venv/bin/mypy
say "import layers"
.venv/bin/lint-imports
say "pytest"
.venv/bin/pytest "$@"
