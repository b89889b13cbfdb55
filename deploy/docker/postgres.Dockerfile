# PostgreSQL 15 from Debian bookworm, on the deployment's base (docs/deploy.md, Images).
# The data directory is /var/lib/postgresql/data (a volume); on first start the entrypoint
# creates the cluster with the user and database of POSTGRES_USER / POSTGRES_DB and the
# password of POSTGRES_PASSWORD (or the file POSTGRES_PASSWORD_FILE).
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
# Without the JIT (LLVM and bitcode: 130 MB of the image; the server runs with jit=off):
# dpkg leaves those files out.
RUN printf '%s\n' 'path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM*' \
        'path-exclude=/usr/lib/postgresql/15/lib/bitcode/*' \
        'path-exclude=/usr/lib/postgresql/15/lib/llvmjit*' > /etc/dpkg/dpkg.cfg.d/assay-no-jit \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends postgresql-15 tini >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres -m 2775 /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 \
    CMD ["sh", "-c", "pg_isready -q -h 127.0.0.1 -U \"${POSTGRES_USER:-assay}\""]
STOPSIGNAL SIGINT
ENTRYPOINT ["tini", "--", "postgres-entrypoint"]
