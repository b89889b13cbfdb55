#!/usr/bin/env bash
# Refresh the browser libraries the UI serves itself (no CDN at run time).
#
#   scripts/vendor-assets.sh
#
# Installs the versions pinned in web-assets/package-lock.json from npm and copies
# the files the pages load into src/assay/web/ui/static/vendor/ (committed, so an
# installation needs no npm). Development-only packages (axe-core, the accessibility
# checker the browser tests inject) go to tests/browser/vendor/ instead and are never
# served. tests/unit/test_vendor_assets.py checks that the committed files of both
# are exactly those of the locked packages.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "vendor-assets.sh: needs npm (apt-get install npm)" >&2; exit 1; }
(cd web-assets && npm ci --ignore-scripts --no-audit --no-fund)
out=src/assay/web/ui/static/vendor
rm -rf "$out"
mkdir -p "$out/codemirror/mode"
m=web-assets/node_modules
cp "$m/htmx.org/dist/htmx.min.js" "$out/htmx.min.js"
cp "$m/chart.js/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$m/codemirror/lib/codemirror.js" "$m/codemirror/lib/codemirror.css" "$out/codemirror/"
for mode in python clike; do
    mkdir -p "$out/codemirror/mode/$mode"
    cp "$m/codemirror/mode/$mode/$mode.js" "$out/codemirror/mode/$mode/"
done
# the API docs page (/api/v1/docs): Swagger UI, served by us instead of a CDN
mkdir -p "$out/swagger-ui"
cp "$m/swagger-ui-dist/swagger-ui-bundle.js" "$m/swagger-ui-dist/swagger-ui.css" "$out/swagger-ui/"
for pkg in htmx.org chart.js codemirror swagger-ui-dist; do
    cp "$m/$pkg/LICENSE"* "$out/LICENSE.$pkg" 2>/dev/null || true
done
manifest() { (cd "$1" && find . -type f ! -name MANIFEST -print0 | sort -z | xargs -0 sha256sum > MANIFEST); }
manifest "$out"

tests_out=tests/browser/vendor
rm -rf "$tests_out"
mkdir -p "$tests_out"
cp "$m/axe-core/axe.min.js" "$tests_out/axe.min.js"
cp "$m/axe-core/LICENSE" "$tests_out/LICENSE.axe-core"
manifest "$tests_out"

for dir in "$out" "$tests_out"; do
    echo "vendored into $dir:"
    cat "$dir/MANIFEST"
done
