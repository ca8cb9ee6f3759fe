#!/usr/bin/env bash
# The whole test suite, with its own set-up: lint, format, types, unit + integration tests
# (real OVS/OVN daemons, netns, emulated NIC; needs root), and every benchmark in smoke mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
step() { printf '\n== %s\n' "$*"; }
step lint && npx eslint . --max-warnings 0
step format && npx prettier --check . --log-level warn
step typecheck && npx tsc -p tsconfig.json
step tests && npx vitest run
step "bench (smoke)" && npx tsx bench/run.ts --all --smoke
