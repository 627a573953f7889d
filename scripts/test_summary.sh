#!/usr/bin/env bash
# The last line of `make test`: every `test result:` line of the step logs in
# DIR (sqlite.log, postgres.log, sdk.log, contract.log, readme-flow.log, lint-spec.log) counted once, and
# whether the PostgreSQL half ran. Exits non-zero if a step's log is missing
# or the total has a failure.
# Usage: scripts/test_summary.sh DIR
set -euo pipefail
dir=$1
status=0
parts=()
passed=0 failed=0
for step in sqlite postgres sdk contract readme-flow lint-spec; do
  log="$dir/$step.log"
  if [ ! -f "$log" ]; then
    parts+=("$step: NO LOG")
    status=1
    continue
  fi
  if grep -q '^postgres: SKIPPED' "$log"; then
    continue
  fi
  read -r p f < <(awk '/^test result:/ { p += $4; f += $6 } END { print p + 0, f + 0 }' "$log")
  if [ "$((p + f))" -eq 0 ]; then
    parts+=("$step: NO TESTS")
    status=1
  else
    parts+=("$step $p/$f")
  fi
  passed=$((passed + p)) failed=$((failed + f))
done
if grep -qs '^postgres: SKIPPED' "$dir/postgres.log"; then
  postgres="PostgreSQL half: SKIPPED (TEST_DATABASE_URL unset)"
elif [ -f "$dir/postgres.log" ]; then
  postgres="PostgreSQL half: ran"
else
  postgres="PostgreSQL half: NOT RUN"
fi
[ "$failed" -eq 0 ] || status=1
echo
detail=$(IFS=,; echo "${parts[*]}" | sed 's/,/, /g')
echo "all test runs: $passed passed, $failed failed (passed/failed: $detail); $postgres"
exit "$status"
