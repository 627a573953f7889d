#!/usr/bin/env bash
# `make readme-flow`: runs the README's copy-paste sh blocks exactly as
# written, each on free ports and a fresh SQLite database, and checks what
# each must show, so the README cannot drift from the service:
#   - the quickstart (between `readme-flow:begin` and `readme-flow:end`):
#     its payout ends `paid`;
#   - the operator API's (`readme-flow:operator:begin` … `:end`): the credit,
#     hold and debit show in the balance, and the ledger comes out as CSV;
#   - the API versions' (`readme-flow:versions:begin` … `:end`): each version
#     answers in its shape, and a bad version is refused.
# Ends with one `test result: ... N passed; M failed` line per block, which
# `make test` counts with the cargo test runs. Exits non-zero if any fails.
set -eu
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# extract NAME BEGIN END: the sh blocks between two README markers.
extract() {
  python3 - README.md "$2" "$3" >"$work/$1.sh" <<'PY'
import re, sys
readme, begin, end = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
marked = re.search(re.escape(f"<!-- {begin} -->") + r"\n(.*?)" + re.escape(f"<!-- {end} -->"), readme, re.S)
if not marked:
    sys.exit(f"README.md has no {begin} … {end} block")
blocks = re.findall(r"^```sh\n(.*?)^```$", marked.group(1), re.S | re.M)
if not blocks:
    sys.exit(f"the {begin} block has no sh code block")
print("\n".join(blocks))
PY
}

# run NAME: runs the block as pasted into a terminal (no -e: a reader's shell
# has none), on free ports (the blocks' own defaults, 8080 and 8000, may be
# taken on a shared machine; they read both from the environment) and a
# fresh database; its background jobs are stopped however it ends, and
# `timeout` bounds the polls. Its output is in $work/NAME.out.
run() {
  {
    echo 'trap '\''kill $(jobs -p) 2>/dev/null || true'\'' EXIT TERM INT'
    cat "$work/$1.sh"
  } >"$work/$1.run.sh"
  local status=0
  (
    export PAYOUTS_BIND="127.0.0.1:$(free_port)" DOC_PORT=$(free_port)
    export DATABASE_URL="sqlite://$work/$1.db?mode=rwc"
    unset PAYOUTS_ENCRYPTION_KEY PAYOUTS_DOCUMENT_ALLOW_HOSTS PAYOUTS_OPERATOR_TOKENS
    timeout 120 bash "$work/$1.run.sh" >"$work/$1.out" 2>&1
  ) || status=$?
  echo "== readme-flow: $1 =="
  cat "$work/$1.out"
  problems=()
  [ "$status" = 0 ] || problems+=("the block exited $status (124: timed out)")
}

# expect NAME PATTERN WHY: the block's output must match PATTERN (grep -E).
expect() {
  grep -Eq -- "$2" "$work/$1.out" || problems+=("$3")
}

# expect_lines NAME PATTERN COUNT WHY: exactly COUNT output lines match.
expect_lines() {
  [ "$(grep -Ec -- "$2" "$work/$1.out")" = "$3" ] || problems+=("$4")
}

# verdict NAME WHAT: the block's result line.
failed=0
verdict() {
  if [ ${#problems[@]} -gt 0 ]; then
    for problem in "${problems[@]}"; do echo "readme-flow: $1: $problem" >&2; done
    [ -f payouts.log ] && tail -n 40 payouts.log >&2
    echo "test result: FAILED. 0 passed; 1 failed; ($2)"
    failed=1
  else
    echo "test result: ok. 1 passed; 0 failed; ($2)"
  fi
}

extract quickstart readme-flow:begin readme-flow:end
extract operator readme-flow:operator:begin readme-flow:operator:end
extract versions readme-flow:versions:begin readme-flow:versions:end

run quickstart
expect quickstart '"alreadyExists":false' "verification did not create the payout account"
expect quickstart '"object":"payout".*"status":"paid"' "the payout did not end paid"
expect quickstart '"paidOut":2500' "the balance does not show the payout paid out"
verdict quickstart "the README's quickstart"

run operator
expect operator '"externalId":"pay_1042"' "the credit was not made"
expect operator '"available":46500' "the balance does not show the credit, the hold and the debit"
expect operator '"held":2000' "the balance does not show the hold"
expect operator '^transaction_id,created_at,organization_id,type,account,amount' "the ledger did not come out as CSV"
expect operator '^txn_[A-Za-z0-9]+,.*,credit,available,50000,usd,,pay_1042' "the CSV ledger lacks the credit"
verdict operator "the README's operator API block"

run versions
expect_lines versions '^\{"data":\{.*"object":"balance".*"success":true\}' 1 "2026-07-11 did not answer in its envelope"
# Unwrapped twice: by the header, and by the pinned organization's key.
expect_lines versions '^\{"available":0,.*"object":"balance"' 2 "2026-07-24 did not answer unwrapped"
expect versions '"hasMore":false,"nextCursor":null,"object":"list"' "2026-07-24 did not answer a list object"
expect versions '^commet-version: 2026-07-24' "a later date did not get 2026-07-24"
expect versions '"code":"invalid_api_version"' "a bad version was not refused"
expect versions '"openapi": "3.0.0"' "the 2026-07-24 document was not served"
verdict versions "the README's API versions block"

exit $failed
