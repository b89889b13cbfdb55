#!/usr/bin/env bash
# Start the compose deployment: build the images (seconds when nothing changed), then
# `docker-compose up -d`. Run from anywhere:
#
#   deploy/compose/up.sh                    uses deploy/compose/.env
#   deploy/compose/up.sh /etc/assay/compose.env [-p PROJECT] [--scale worker=4]
#
# Arguments after the env file go to `docker-compose up -d`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
env_file="${1:-$root/deploy/compose/.env}"
[ "$#" -gt 0 ] && shift
if [ ! -f "$env_file" ]; then
    echo "up.sh: no env file $env_file (install -m 600 deploy/compose/.env.example deploy/compose/.env, then fill it in)" >&2
    exit 1
fi
env_file="$(cd "$(dirname "$env_file")" && pwd)/$(basename "$env_file")"
"$root/scripts/build-deploy-images.sh"
cd "$root"
export ENV_FILE="$env_file" WORKER_SECCOMP="$root/deploy/docker/worker-seccomp.json"
project=()
if [ "${1:-}" = "-p" ]; then project=(-p "$2"); shift 2; fi
exec docker-compose "${project[@]}" -f deploy/compose/docker-compose.yml --env-file "$env_file" \
    up -d "$@"
