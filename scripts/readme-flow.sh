#!/usr/bin/env bash
# `make readme-flow`: runs the README's quickstart (the sh block between the
# `readme-flow:begin` and `readme-flow:end` markers) exactly as written, on
# free ports and a fresh SQLite database, and checks that its payout ends
# `paid`. So the README cannot drift from the service.
# Ends with a `test result: ... N passed; M failed` line that `make test`
# counts with the cargo test runs.
set -eu
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - README.md >"$work/flow.sh" <<'PY'
import re, sys
readme = open(sys.argv[1]).read()
marked = re.search(r"<!-- readme-flow:begin -->\n(.*?)<!-- readme-flow:end -->", readme, re.S)
if not marked:
    sys.exit("README.md has no readme-flow block")
blocks = re.findall(r"^```sh\n(.*?)^```$", marked.group(1), re.S | re.M)
if not blocks:
    sys.exit("the readme-flow block has no sh code block")
print("\n".join(blocks))
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The block's own defaults (8080, 8000) may be taken on a shared machine;
# it reads both from the environment. The database is a fresh one.
export PAYOUTS_BIND="127.0.0.1:$(free_port)" DOC_PORT=$(free_port)
export DATABASE_URL="sqlite://$work/readme.db?mode=rwc"
unset PAYOUTS_ENCRYPTION_KEY PAYOUTS_DOCUMENT_ALLOW_HOSTS

# Runs as pasted into a terminal (no -e: a reader's shell has none); its
# background jobs are stopped however it ends, and `timeout` bounds the polls.
{
  echo 'trap '\''kill $(jobs -p) 2>/dev/null || true'\'' EXIT TERM INT'
  cat "$work/flow.sh"
} >"$work/run.sh"
status=0
timeout 120 bash "$work/run.sh" >"$work/out.txt" 2>&1 || status=$?
cat "$work/out.txt"

problems=()
[ "$status" = 0 ] || problems+=("the block exited $status (124: timed out)")
grep -q '"alreadyExists":false' "$work/out.txt" || problems+=("verification did not create the payout account")
grep -q '"object":"payout".*"status":"paid"' "$work/out.txt" || problems+=("the payout did not end paid")
grep -q '"paidOut":2500' "$work/out.txt" || problems+=("the balance does not show the payout paid out")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'readme-flow: %s\n' "${problems[@]}" >&2
  [ -f payouts.log ] && tail -n 40 payouts.log >&2
  echo "test result: FAILED. 0 passed; 1 failed; (the README's quickstart)"
  exit 1
fi
echo "test result: ok. 1 passed; 0 failed; (the README's quickstart)"
