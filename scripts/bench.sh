#!/usr/bin/env bash
# Benchmarks: labs spawn the compiled agent (dist/), so build first, then run every
# test/bench/*.bench.ts module. Arguments go to the runner (--only NAME[,NAME], --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node.sh && homecloud_use_node   # the pinned Node.js, fetched by setup
echo "bench: building (tsc -p tsconfig.json)" >&2
npx tsc -p tsconfig.json
exec node --import tsx test/bench/run.ts "$@"
