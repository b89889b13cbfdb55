#!/bin/sh
# The platform image's entrypoint (deploy/docker/Dockerfile):
#   serve [ARGS]    assay serve --workers 0 [ARGS]: the API server only
#   worker [ARGS]   assay worker [ARGS]
#   sandbox-check   `assay sandbox check` after the worker's preparation
#   health          the container's health: GET /healthz of a server, or
#                   `assay worker --check` of a worker (whichever runs as PID 1's child)
#   anything else   run as given (e.g. `assay user create ...`)
set -eu

native_sandbox() {
    # What the native backend needs of the worker container (docs/deploy.md, Images),
    # done here with the CAP_SYS_ADMIN the container was given for bubblewrap:
    # - the cgroup hierarchies writable: Docker mounts the container's own cgroups
    #   (its subtree, nothing above) read-only; job cgroups are made below them (bind
    #   remount: the mount's own flag only). The worker then runs in a cgroup namespace
    #   of its own (`unshare --cgroup`, below), so /proc/self/cgroup names the mounted
    #   subtree "/" also where Docker shares the host's cgroup namespace (cgroup v1's
    #   default; docker-compose 1.29 has no `cgroup: private`);
    # - /proc unmasked: Docker covers parts of /proc (kcore, keys, sys, ...), and the
    #   kernel lets a user namespace (each run's) mount a fresh /proc only when a
    #   procfs without covered parts is visible; the covers are no boundary for a
    #   process holding CAP_SYS_ADMIN anyway (it could mount a proc of its own).
    [ "$(id -u)" = 0 ] || return 0
    awk '{ split($0, halves, " - "); split(halves[2], fs, " ")
           if ($5 ~ "^/sys/fs/cgroup" && (fs[1] == "cgroup" || fs[1] == "cgroup2")) print $5 }' \
        /proc/self/mountinfo | while read -r hierarchy; do
        mount -o remount,bind,rw "$hierarchy" \
            || echo "assay-entrypoint: cannot make $hierarchy writable (cap_add SYS_ADMIN?)" >&2
    done
    awk '$5 ~ "^/proc/" { print $5 }' /proc/self/mountinfo | sort -r | while read -r cover; do
        umount "$cover" || echo "assay-entrypoint: cannot unmask $cover (cap_add SYS_ADMIN?)" >&2
    done
}

launcher() {
    # The launcher compiled at build time, put where the native backend looks for it
    # (STATE_DIR/bin, by its sources' hash): a state dir on a fresh volume has none, and
    # the image has no compiler to build it again.
    bin="${ASSAY_STATE_DIR:-/var/lib/assay}/bin"
    mkdir -p "$bin"
    for file in /opt/assay/libexec/assay-launch-*; do
        [ -e "$bin/${file##*/}" ] || cp -p "$file" "$bin/"
    done
}

case "${1:-serve}" in
    serve)
        [ "$#" -gt 0 ] && shift
        exec assay serve --workers 0 "$@"
        ;;
    worker)
        shift
        if [ "${ASSAY_GRADING_BACKEND:-native}" = native ]; then
            native_sandbox
            launcher
            exec unshare --cgroup assay worker "$@"
        fi
        exec assay worker "$@"
        ;;
    health)
        # PID 1 is tini; its arguments say which command this container runs.
        case " $(tr '\0' ' ' </proc/1/cmdline) " in
            *" worker "*) exec assay worker --check ;;
        esac
        exec python3 -c "import os, sys, urllib.request
port = os.environ.get('ASSAY_PORT', '8000')
with urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4) as reply:
    sys.exit(0 if reply.status == 200 else 1)"
        ;;
    sandbox-check)
        # `assay sandbox check` as a worker would run it (the same preparation)
        shift
        native_sandbox
        launcher
        exec unshare --cgroup assay sandbox check "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
