#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs every suite.
#   bash scripts/test.sh              all tests
#   bash scripts/test.sh test/unit    only the files under a path
set -euo pipefail
cd "$(dirname "$0")/.."
HOMECLOUD_SETUP_BROWSER=1 bash scripts/setup.sh
. scripts/node.sh && homecloud_use_node   # the pinned Node.js, fetched by setup

# Whatever happens (failure, Ctrl-C), leave no test process, namespace or bridge behind
# (only this run's: labs are named after HOMECLOUD_TEST_RUN).
export HOMECLOUD_TEST_RUN="${HOMECLOUD_TEST_RUN:-$$}"
trap 'node --import tsx test/support/reap.ts || true' EXIT

echo "» static checks"
npx tsc -p tsconfig.test.json --noEmit
npx biome check --diagnostic-level=error .   # includes the 70-line function and 400-line file limits
npx depcruise --config .dependency-cruiser.cjs --output-type err agent control cli lab bin   # import rules (layers)

# The netboot image (cached by its inputs: instant unless the agent changed); the netboot
# tests need root for namespaces and taps, so only root builds it.
if [ "$(id -u)" -eq 0 ]; then
  echo "» netboot image"
  bash images/netboot/build.sh >/dev/null
fi

paths=("$@"); [ "${#paths[@]}" -gt 0 ] || paths=(test/unit test/cluster test/browser)
files=()
for p in "${paths[@]}"; do mapfile -t -O "${#files[@]}" files < <(find "$p" -name '*.test.ts' | sort); done
[ "${#files[@]}" -gt 0 ] || { echo "no test files found under: ${paths[*]}" >&2; exit 1; }
echo "» running ${#files[@]} test files (unit, then real-process cluster tests, then Chromium)"
mkdir -p test/output
# One file at a time: cluster tests start many processes and this may be a 2-core box.
status=0
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=test/output/results.tap \
  "${files[@]}" || status=$?
pass=$(sed -n 's/^# pass //p' test/output/results.tap | tail -1)
fail=$(sed -n 's/^# fail //p' test/output/results.tap | tail -1)
skip=$(sed -n 's/^# skipped //p' test/output/results.tap | tail -1)
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit "$status"
