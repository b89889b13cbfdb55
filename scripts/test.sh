#!/usr/bin/env bash
# Quickstart, part 2: set up everything (Docker and its images, PostgreSQL included)
# and run the checks and the whole test suite on both sandbox backends and both databases.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev --docker
export ASSAY_REQUIRE_NATIVE=1 ASSAY_REQUIRE_DOCKER=1
# The platform's database tests run on SQLite and on this PostgreSQL (started by setup.sh).
ASSAY_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"
export ASSAY_TEST_POSTGRES_URL ASSAY_REQUIRE_POSTGRES=1
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
