#!/bin/sh
# Build the Docker backend's images: each environment's tree (unless stored), imported.
# Needs root, mmdebstrap (scripts/setup.sh) and a running Docker daemon; see docs/docker.md.
# Arguments are passed to `assay image build` (environments' names or spec paths, --force).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
assay="$here/.venv/bin/assay"
[ -x "$assay" ] || assay=assay
exec "$assay" image build "$@"
