#!/usr/bin/env bash
# Installs what `make e2e-browser` needs, idempotently: Debian's chromium (the browser the tests
# drive; nothing ever downloads one of its own) and playwright-core into e2e/node_modules from
# the committed e2e/package-lock.json. Safe to run on every CI run.
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
echo "e2e-browser-deps: $(chromium --version), playwright-core $wanted"
