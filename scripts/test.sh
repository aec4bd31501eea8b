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
# Real-process files one at a time (they start many processes; this may be a 2-core box).
# The unit files run beside them from the start, two at a time at the lowest priority:
# they are pure and each in its own process, so they only take CPU the clusters leave
# idle (a nice-19 process gets ~1.5 % of a core against a busy one) and no longer add
# their ~6 minutes at the end; their output is shown once the real-process files are done.
# The full suite (no paths given) keeps the files of test/long-files.tsv for last and runs
# each only while the time budget holds it; files under paths given run regardless.
budget_s=${HOMECLOUD_TEST_BUDGET_S:-$([ "$#" -eq 0 ] && echo 5100 || echo 0)}
declare -A long_s=() chosen=()
long_order=()
while IFS=$'\t' read -r f sec _; do [[ -z $f || $f == \#* ]] || { long_s[$f]=$sec; long_order+=("$f"); }; done < test/long-files.tsv
heavy=(); unit=(); later=()
for f in "${files[@]}"; do
  chosen[$f]=1
  if [[ $f == test/unit/* ]]; then unit+=("$f")
  elif [ "$budget_s" -gt 0 ] && [ -n "${long_s[$f]:-}" ]; then :
  else heavy+=("$f"); fi
done
# The budgeted files in the list's order (of worth), not the alphabet's.
if [ "$budget_s" -gt 0 ]; then for f in "${long_order[@]}"; do [ -z "${chosen[$f]:-}" ] || later+=("$f"); done; fi
echo "» running ${#files[@]} test files: ${#heavy[@]} real-process and Chromium files one at a time, ${#unit[@]} unit files beside them at low priority${later[*]:+, then ${#later[@]} more while the ${budget_s} s budget holds them}"
mkdir -p test/output
rm -f test/output/results*.tap test/output/unit.out
run_files() { # NAME CONCURRENCY FILES...
  local name=$1 conc=$2; shift 2
  local t0=$SECONDS rc=0
  node --import tsx --test --test-concurrency="$conc" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="test/output/results-$name.tap" \
    "$@" || rc=$?
  echo "» $name files: $(( SECONDS - t0 )) s"
  return "$rc"
}
export -f run_files   # the unit files' and each budgeted file's own bash calls it too
unit_pid=
if [ "${#unit[@]}" -gt 0 ]; then
  # Its own process group (setsid), so an interrupted run stops all of it.
  setsid nice -n 19 bash -c 'run_files unit 2 "$@"' _ "${unit[@]}" > test/output/unit.out 2>&1 &
  unit_pid=$!
  trap 'kill -- "-$unit_pid" 2>/dev/null || true; node --import tsx test/support/reap.ts || true' EXIT
fi
status=0
if [ "${#heavy[@]}" -gt 0 ]; then run_files cluster 1 "${heavy[@]}" || status=1; fi
not_run=()
for f in "${later[@]}"; do
  # A third over its measured time for a slower machine; killed at the budget's end (a
  # failure: something got slower) rather than taking the whole run past its bound.
  left=$(( budget_s - SECONDS ))
  if [ $(( ${long_s[$f]} * 4 / 3 )) -gt "$left" ]; then not_run+=("$f"); continue; fi
  name=$(basename "$f" .test.ts)
  timeout --signal=TERM --kill-after=30 "$left" bash -c 'run_files "$@"' _ "$name" 1 "$f" || status=1
done
for f in "${not_run[@]}"; do
  echo "» not run for time: $f (about ${long_s[$f]} s; $(( budget_s - SECONDS )) s of the ${budget_s} s budget left; run it with: bash scripts/test.sh $f)"
done
if [ -n "$unit_pid" ]; then
  echo "» unit files (they ran beside the others; waiting for the last of them)"
  wait "$unit_pid" || status=1
  cat test/output/unit.out
fi
cat test/output/results-*.tap > test/output/results.tap
# Why each test failed, last: a CI log is read from its tail, where the unit files' output
# would otherwise be all there is.
node --import tsx test/support/failures.ts test/output/results-*.tap || true
count() { sed -n "s/^# $1 //p" test/output/results-*.tap | awk '{s+=$1} END {print s+0}'; }
echo "$(count pass) passed, $(count fail) failed, $(count skipped) skipped${not_run[*]:+; ${#not_run[@]} long files not run for time}"
exit "$status"
