#!/usr/bin/env bash
# Installs what `make e2e-browser` needs, idempotently: Debian's chromium (the browser the tests
# drive; nothing ever downloads one of its own), playwright-core into e2e/node_modules from the
# committed e2e/package-lock.json, and a real djangorestframework-simplejwt server's packages
# into e2e/.venv from e2e/simplejwt/requirements.txt. Safe to run on every CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium > /dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium \
        || { apt-get update && apt-get install -y --no-install-recommends chromium; }
fi

if ! command -v node > /dev/null 2>&1 || ! command -v npm > /dev/null 2>&1; then
    echo "e2e-browser-deps: node and npm are required" >&2
    exit 1
fi

wanted="$(node -p 'require("./e2e/package-lock.json").packages["node_modules/playwright-core"].version')"
installed="$(node -p 'try { require("./e2e/node_modules/playwright-core/package.json").version } catch { "" }')"
if [ "$wanted" != "$installed" ]; then
    (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
venv=e2e/.venv
if ! "$venv/bin/python" -c 'import rest_framework_simplejwt' > /dev/null 2>&1 \
    || ! diff -q <("$venv/bin/pip" freeze 2>/dev/null | sort -f) \
        <(grep -v '^#' e2e/simplejwt/requirements.txt | sort -f) > /dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r e2e/simplejwt/requirements.txt
fi
echo "e2e-browser-deps: $(chromium --version 2>/dev/null), playwright-core $wanted, $("$venv/bin/pip" freeze | grep -i simplejwt)"
