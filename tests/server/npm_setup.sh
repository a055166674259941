#!/usr/bin/env bash
# Installs the npm packages of the client tests (package-lock.json, as
# `npm ci` does) into DEST. Without node and npm this fails under CI=true
# and is skipped (exit 77) elsewhere.
# Usage: npm_setup.sh DEST
set -euo pipefail
dest="$1"
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL: node and npm are needed for the openai client test" >&2
    exit 1
  fi
  echo "node or npm missing: skipping the openai client test"
  exit 77
fi
mkdir -p "$dest"
# npm ci starts from scratch each time; an unchanged lock file needs no new install.
if cmp -s "$here/package-lock.json" "$dest/package-lock.json" && [[ -d "$dest/node_modules/openai" ]]; then
  echo "node modules up to date in $dest"
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
timeout 300 npm ci --no-audit --no-fund --ignore-scripts
