#!/usr/bin/env bash
# Runs rkt's benchmarks against its peers and prints their tables (Markdown) on stdout; progress
# goes to stderr. Run as root after scripts/install.sh. Arguments go to pull.ts (e.g. --rounds 5,
# --profile). Set RKT_BENCH_NO_BUILD=1 to measure dist/ as it is instead of rebuilding it first.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "run-all: run as root (rkt fetch and podman's storage need it)" >&2
  exit 1
fi
if [ "${RKT_BENCH_NO_BUILD:-}" != 1 ]; then
  echo "run-all: npm run build" >&2
  npm run --silent build
fi

echo "# rkt benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "run-all: cached fetch" >&2
node --import tsx bench/cached-fetch.ts
echo "run-all: pull + unpack (several minutes)" >&2
node --import tsx bench/pull.ts "$@"
echo "run-all: mutable pods, app by app (about 2.5 minutes)" >&2
node --import tsx bench/app.ts
echo "run-all: API service (ListPods/ListImages/ListenEvents)" >&2
node --import tsx bench/api.ts
