#!/bin/sh
# Build the Docker backend's images (python3, c, cpp, java) on this host.
# Needs root, debootstrap and a running Docker daemon; see docs/docker.md.
# Arguments are passed to `assay image build` (environments, --force, --fresh, --mirror).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
assay="$here/.venv/bin/assay"
[ -x "$assay" ] || assay=assay
if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends debootstrap
fi
exec "$assay" image build "$@"
