#!/usr/bin/env bash
# Runs every test of the solution on a fresh machine: installs prerequisites, builds once, runs each test project,
# and ends with one summary line 'N passed, N failed, N skipped'.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh tests || exit 1

results=$(mktemp -d)
dotnet build UNetCluster.sln -c Release -v quiet -nologo || { echo "0 passed, 1 failed"; exit 1; }
status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  dotnet test "$project" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    2>&1 | tee "$results/$name.log" \
    | awk '/^[[:space:]]*(Passed|Failed)!/ { print; next } /^[[:space:]]+Failed / { print; n = 24; next } n > 0 { print; n-- }'   # a failure's message and the start of its stack
  code=${PIPESTATUS[0]}   # read at once: any later command (even '|| true') replaces PIPESTATUS
  [ "$code" -eq 0 ] || status=1
done

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
[ "$passed" -gt 0 ] || status=1
[ "$failed" -eq 0 ] || status=1
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
