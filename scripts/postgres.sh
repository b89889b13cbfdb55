#!/usr/bin/env bash
# Install (Debian's postgresql), start, and prepare a PostgreSQL server for Assay's
# tests and for trying distributed mode on one machine.
#
#   scripts/postgres.sh     prints the URL to use as ASSAY_DATABASE_URL
#
# Makes the role `assay` (password `assay`, may create databases: each test makes
# its own) and the database `assay`. Listens on all addresses and lets the role in
# from loopback and from 10.77.0.0/16, the private range the distributed test puts
# its network namespace on. Idempotent. Needs root. Not for production: pick your
# own password and pg_hba rules there.
set -euo pipefail

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v pg_lsclusters >/dev/null || ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null \
        | grep -q "install ok installed"; then
    say "Installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

read -r version cluster _ < <(pg_lsclusters --no-header | head -1)
if [ -z "${version:-}" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    cluster=main
    say "Creating cluster $version/$cluster"
    pg_createcluster "$version" "$cluster" >/dev/null
fi
conf="/etc/postgresql/$version/$cluster"
if ! grep -q "^listen_addresses = '\*'" "$conf/postgresql.conf"; then
    echo "listen_addresses = '*'" >> "$conf/postgresql.conf"
    echo "max_connections = 300" >> "$conf/postgresql.conf"
fi
if ! grep -q "assay-test" "$conf/pg_hba.conf"; then
    {
        echo "# assay-test: the test role from loopback and the distributed test's netns"
        echo "host all assay 127.0.0.1/32 scram-sha-256"
        echo "host all assay 10.77.0.0/16 scram-sha-256"
    } >> "$conf/pg_hba.conf"
    pg_ctlcluster "$version" "$cluster" stop 2>/dev/null || true
fi
if ! pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' \
        | grep -q online; then
    say "Starting PostgreSQL $version/$cluster"
    pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 50); do
    runuser -u postgres -- psql -qAtc "select 1" >/dev/null 2>&1 && break
    sleep 0.2
done
runuser -u postgres -- psql -qAt >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'assay') THEN
    CREATE ROLE assay LOGIN CREATEDB PASSWORD 'assay';
  END IF;
END $$;
-- Tests drop their databases WITH (FORCE): that may have to end an autovacuum worker.
GRANT pg_signal_backend TO assay;
SQL
if ! runuser -u postgres -- psql -qAtc "select 1 from pg_database where datname='assay'" | grep -q 1; then
    runuser -u postgres -- createdb -O assay assay
fi
port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')"
echo "postgresql+psycopg://assay:assay@127.0.0.1:$port/assay"
