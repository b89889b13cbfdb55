#!/usr/bin/env bash
# Set up Assay on Debian/Ubuntu: system packages, then .venv with the `assay` command.
#
#   scripts/setup.sh            native sandbox, the environment builder (mmdebstrap) and
#                               the environments the demo grades in (assay env build)
#   scripts/setup.sh --dev      ... plus the development tools (pytest, mypy, ruff) and a
#                               running PostgreSQL for the tests (scripts/postgres.sh)
#   scripts/setup.sh --docker   ... plus docker.io, a running dockerd and the images (the
#                               built-in environments' trees, built unless stored, imported)
#
# Idempotent: a second run only checks. Needs root for apt-get (skipped when
# every package is already installed).
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
DOCKER=0
for arg in "$@"; do
    case "$arg" in
        --dev) DEV=1 ;;
        --docker) DOCKER=1 ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# slirp4netns, iptables, iproute2: the network of an environment build's downloading steps
# No toolchain for students' programs: they run in environments' trees. gcc and libc6-dev
# build the sandbox's launcher; mmdebstrap builds the trees.
PACKAGES=(bubblewrap libseccomp2 python3 python3-venv binutils gcc libc6-dev make
          util-linux procps git mmdebstrap slirp4netns iptables iproute2)
if [ "$DEV" = 1 ]; then
    # chromium and a font: browser tests; clang and valgrind: the real check50 run beside
    # the check50 importer (its C checks compile with clang); kubernetes-client: kubectl's
    # kustomize renders deploy/kubernetes for the manifests' validation (not when a kubectl
    # is installed already, e.g. Google Cloud SDK's: both packages own /usr/bin/kubectl);
    # systemd: systemd-analyze verifies deploy/systemd's units
    PACKAGES+=(chromium fonts-dejavu-core clang valgrind systemd)
    command -v kubectl >/dev/null || PACKAGES+=(kubernetes-client)
fi
if [ "$DOCKER" = 1 ]; then
    # docker-compose: the compose deployment (deploy/compose) and its end-to-end test
    PACKAGES+=(docker.io docker-compose)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: installing packages needs root (sudo $0 $*)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            PYTHON="$candidate"
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "setup.sh: Python >= 3.11 is required" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    say "Creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
# The exact versions of requirements.lock (requirements-dev.lock with --dev; both made by
# scripts/lock.sh from pyproject.toml's ranges), then Assay itself without resolving again:
# CI, the images and every machine install the same packages.
stamp=.venv/.assay-installed
lock=requirements.lock
[ "$DEV" = 1 ] && lock=requirements-dev.lock
want="$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)-dev$DEV"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "Installing Assay into .venv (dependencies from $lock)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$lock"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
fi

if [ "$DEV" = 1 ]; then
    say "PostgreSQL for the tests (scripts/postgres.sh)"
    bash scripts/postgres.sh >/dev/null
fi

# Every sandbox runs in an environment's tree (docs/environments.md): built once per
# machine, then a lookup. The demo grades in python3, c, cpp, java and the two example
# packages' own environments; the tests use every built-in and a custom one too.
if [ "$DEV" = 1 ]; then
    say "Building the environments (first time on this machine: about 25 minutes; then cached)"
    .venv/bin/assay env build --builtins examples/assignments/c-clang \
        examples/assignments/python-numpy tests/fixtures/environments/custom
else
    say "Building the environments (first time on this machine: a few minutes; then cached)"
    .venv/bin/assay env build python3 c cpp java examples/assignments/c-clang \
        examples/assignments/python-numpy
fi

if [ "$DOCKER" = 1 ]; then
    if ! docker info >/dev/null 2>&1; then
        say "Starting dockerd"
        mkdir -p /var/log/assay
        nohup dockerd --bridge=none --iptables=false --ip6tables=false \
            >/var/log/assay/dockerd.log 2>&1 &
        for _ in $(seq 60); do
            docker info >/dev/null 2>&1 && break
            sleep 1
        done
        docker info >/dev/null 2>&1 || { echo "dockerd did not start" >&2; tail -20 /var/log/assay/dockerd.log >&2; exit 1; }
    fi
    say "Building the sandbox images (first time: a few minutes)"
    # Each environment's tree is built unless the store has it, then imported unless the
    # daemon has its image: seconds when both are there.
    .venv/bin/assay image build
fi
say "Setup complete: .venv/bin/assay"
