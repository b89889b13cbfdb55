#!/bin/bash
# Write the upstream list of UPSTREAMS into nginx.conf, then run nginx in the foreground.
set -euo pipefail
upstreams="${UPSTREAMS:-api-1:8000 api-2:8000}"
servers=""
for server in $upstreams; do
    servers+="        server $server max_fails=1 fail_timeout=5s;"$'\n'
done
body="${MAX_BODY:-25m}"
conf=/run/nginx-conf/nginx.conf
while IFS= read -r line; do
    case "$line" in
        *@UPSTREAMS@*) printf '%s' "$servers" ;;
        *) printf '%s\n' "${line//@MAX_BODY@/$body}" ;;
    esac
done < /etc/nginx/assay.conf.template > "$conf"
exec nginx -c "$conf" -g 'daemon off;'
