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
# Real-process files one at a time (they start many processes; this may be a 2-core box),
# then the unit files two at a time: pure, each in its own process, no shared state, and
# each file's cost is mostly starting node and loading its modules.
heavy=(); unit=()
for f in "${files[@]}"; do if [[ $f == test/unit/* ]]; then unit+=("$f"); else heavy+=("$f"); fi; done
echo "» running ${#files[@]} test files (${#heavy[@]} real-process and Chromium, one at a time; then ${#unit[@]} unit, two at a time)"
mkdir -p test/output
rm -f test/output/results*.tap
status=0
run_files() { # NAME CONCURRENCY FILES...
  local name=$1 conc=$2; shift 2
  [ "$#" -gt 0 ] || return 0
  local t0=$SECONDS
  node --import tsx --test --test-concurrency="$conc" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="test/output/results-$name.tap" \
    "$@" || status=1
  echo "» $name files: $(( SECONDS - t0 )) s"
}
run_files cluster 1 "${heavy[@]}"
run_files unit 2 "${unit[@]}"
cat test/output/results-*.tap > test/output/results.tap
count() { sed -n "s/^# $1 //p" test/output/results-*.tap | awk '{s+=$1} END {print s+0}'; }
echo "$(count pass) passed, $(count fail) failed, $(count skipped) skipped"
exit "$status"
