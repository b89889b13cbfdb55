#!/bin/sh
# First start: create the cluster in $PGDATA with the user POSTGRES_USER (default assay),
# its password (POSTGRES_PASSWORD or the file POSTGRES_PASSWORD_FILE) and the database
# POSTGRES_DB (default assay); password (scram) logins over the network. Then run postgres.
set -eu
user="${POSTGRES_USER:-assay}"
db="${POSTGRES_DB:-assay}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres-entrypoint: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE)" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -w -o "-c listen_addresses=''" start >/dev/null
    [ "$db" = postgres ] || createdb --username="$user" "$db"
    pg_ctl -w -m fast stop >/dev/null
    echo "postgres-entrypoint: created the cluster (user $user, database $db)"
fi
exec postgres -c listen_addresses='*' -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" \
    -c jit=off "$@"
