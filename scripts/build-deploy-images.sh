#!/usr/bin/env bash
# Build the deployment's images locally, no registry (docs/deploy.md, Images):
#
#   assay-deploy-base:<hash>   Debian bookworm (minbase), made by mmdebstrap and
#                              `docker import`ed, as `assay image build` does for sandboxes
#   assay-platform:latest      the API server (`assay serve --workers 0`, non-root) and the
#                              worker (`assay worker`): deploy/docker/Dockerfile
#   assay-postgres:latest      PostgreSQL 15 from Debian: deploy/docker/postgres.Dockerfile
#   assay-proxy:latest         nginx from Debian, the reverse proxy: deploy/docker/proxy.Dockerfile
#
#   scripts/build-deploy-images.sh            build what changed (seconds when nothing did)
#   TAG=v1 scripts/build-deploy-images.sh     tag the images :v1 as well as :latest
#
# Needs root (mmdebstrap --mode=root), mmdebstrap and a running dockerd. The daemon here
# has no default bridge (dockerd --bridge=none), so builds use the host's network
# (`docker build --network host`). pip in the build reaches the index this machine's pip
# uses (PIP_INDEX_URL, else `pip config get global.index-url`, else PyPI) with the
# certificates it trusts (PIP_CERT, `pip config get global.cert`, else the host's bundle). When the
# repository has requirements.lock (pip-compile style), the image's dependencies are
# installed from it; Assay itself from a wheel of this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

SUITE=bookworm
MIRROR="${ASSAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${ASSAY_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
BASE_PACKAGES="ca-certificates"
TAG="${TAG:-}"

for tool in docker mmdebstrap; do
    command -v "$tool" >/dev/null || { echo "build-deploy-images.sh: $tool is missing (scripts/setup.sh --docker)" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "build-deploy-images.sh: dockerd is not running (scripts/setup.sh --docker)" >&2; exit 1; }

# --- the base: a Debian tree, imported -----------------------------------------------
# Named by what makes it, so a change of suite, mirror or packages builds a new one and
# an unchanged one is an image lookup.
base_hash="$(printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$BASE_PACKAGES" | sha256sum | cut -c1-16)"
BASE="assay-deploy-base:$SUITE-$base_hash"
if docker image inspect "$BASE" >/dev/null 2>&1; then
    say "Base image $BASE: present"
else
    [ "$(id -u)" = 0 ] || { echo "build-deploy-images.sh: building the base needs root (mmdebstrap --mode=root)" >&2; exit 1; }
    say "Building the base image $BASE (mmdebstrap, about a minute)"
    tree="$(mktemp -d /tmp/assay-deploy-base.XXXXXX)"
    trap 'rm -rf "$tree"' EXIT
    mmdebstrap --mode=root --variant=minbase --quiet \
        --include="$BASE_PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        "$SUITE" "$tree/rootfs" \
        "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main"
    tar --create --file=- --numeric-owner -C "$tree/rootfs" . \
        | docker import --change 'CMD ["/bin/bash"]' \
            --change "LABEL org.opencontainers.image.title=assay-deploy-base" - "$BASE" >/dev/null
    rm -rf "$tree"
    trap - EXIT
fi

# --- the build context: only what the images use ---------------------------------------
# Docker's build cache compares files' contents, not their times, so a context copied
# afresh from an unchanged checkout reuses every layer.
index_url="${PIP_INDEX_URL:-$(pip config get global.index-url 2>/dev/null || true)}"
index_url="${index_url:-https://pypi.org/simple}"
# ... and trusts the certificates this machine's pip trusts (PIP_CERT, `pip config get
# global.cert`, else the host's bundle): a TLS-inspecting proxy's CA reaches the build.
pip_cert="${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}"
pip_cert="${pip_cert:-/etc/ssl/certs/ca-certificates.crt}"
context="$(mktemp -d /tmp/assay-deploy-context.XXXXXX)"
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/src"
cp pyproject.toml README.md "$context/"
[ -f LICENSE ] && cp LICENSE "$context/"
cp -r src/assay "$context/src/"
find "$context/src" -name __pycache__ -prune -exec rm -rf {} +
if [ -f requirements.lock ]; then
    cp requirements.lock "$context/requirements.lock"
else
    : > "$context/requirements.lock"  # no lock: the wheel's own dependency ranges
fi
cp deploy/docker/entrypoint.sh deploy/docker/postgres-entrypoint.sh deploy/docker/proxy-entrypoint.sh \
    deploy/docker/nginx.conf "$context/"
cp "$pip_cert" "$context/pip-cert.pem"  # the build stage's only; not in the images

build() {  # build IMAGE DOCKERFILE
    local image="$1" dockerfile="$2"
    say "Building $image"
    local started=$SECONDS
    DOCKER_BUILDKIT=0 docker build --network host \
        --build-arg "BASE=$BASE" --build-arg "PIP_INDEX_URL=$index_url" \
        --label "org.opencontainers.image.source=assay" \
        -f "$dockerfile" -t "$image:latest" "$context" >"$context/build.log"
    [ -z "${VERBOSE:-}" ] || cat "$context/build.log" >&2
    [ -n "$TAG" ] && docker tag "$image:latest" "$image:$TAG"
    local size
    size="$(docker image inspect -f '{{.Size}}' "$image:latest")"
    say "$image:latest: $((size / 1000000)) MB, $((SECONDS - started)) s"
}
build assay-platform deploy/docker/Dockerfile
build assay-postgres deploy/docker/postgres.Dockerfile
build assay-proxy deploy/docker/proxy.Dockerfile
