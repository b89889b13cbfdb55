# The reverse proxy in front of the API servers: Debian's nginx on the deployment's base
# (docs/deploy.md, Images). Runs as www-data on :8080; deploy/docker/nginx.conf balances
# over the API servers named in UPSTREAMS (default "api-1:8000 api-2:8000").
ARG BASE
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends nginx-light tini >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
       /etc/nginx/sites-enabled/* \
    && install -d -o www-data -g www-data /var/lib/nginx /run/nginx-conf \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/assay.conf.template
COPY proxy-entrypoint.sh /usr/local/bin/proxy-entrypoint
USER www-data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["tini", "--", "proxy-entrypoint"]
