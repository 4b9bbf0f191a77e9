#!/usr/bin/env bash
# Serves dist/ on http://localhost:${PORT:-8080}/ (build it first with scripts/build_web.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
[ -f dist/index.html ] || { echo "serve_web: dist/ is missing; run scripts/build_web.sh first" >&2; exit 1; }
exec node web/serve.mjs dist "${PORT:-8080}"
