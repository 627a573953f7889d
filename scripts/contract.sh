#!/usr/bin/env bash
# `make contract`: serves the API on a free port with a fresh SQLite database
# and a ready sandbox organization, then runs schemathesis against its spec.
# Usage: scripts/contract.sh PAYOUTS_BINARY SCHEMATHESIS_BINARY JUNIT_PATH [st run options...]
# Ends with a `test result: ... N passed; M failed` line (from the JUnit
# report) that `make test` counts with the cargo test runs.
set -euo pipefail
bin=$(realpath "$1") st=$(realpath "$2") junit=$(realpath -m "$3")
shift 3
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# The identity document, served on loopback (allow-listed below), so that the
# organization can be verified through the API itself.
mkdir "$work/docs" && printf '%%PDF-1.4 contract test document' > "$work/docs/id.pdf"
doc_port=$(free_port)
python3 -m http.server "$doc_port" --bind 127.0.0.1 --directory "$work/docs" >"$work/docs.log" 2>&1 &
pids+=($!)

port=$(free_port)
base="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$work/contract.db?mode=rwc"
export PAYOUTS_BIND="127.0.0.1:$port"
export PAYOUTS_SANDBOX_DELAY_MS=50
export PAYOUTS_DOCUMENT_ALLOW_HOSTS="127.0.0.1:$doc_port"
export PAYOUTS_LOG=warn
export PAYOUTS_ENCRYPTION_KEY=$(python3 -c "import secrets; print(secrets.token_hex(32))")

org=$("$bin" org create --name "Contract Sandbox")
org_id=$(json_field organizationId <<<"$org")
key=$(json_field apiKey <<<"$org")
# Large enough that schema-valid payouts rarely hit 402.
"$bin" balance credit --org "$org_id" --amount 1000000000000000 >/dev/null

"$bin" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "$base/healthz" >/dev/null && break
  sleep 0.1
done
curl -sf "$base/healthz" >/dev/null || { cat "$work/serve.log"; exit 2; }

# A verified payout account with a default bank account, so that POST
# /payouts can succeed and the stateful phase can follow its links.
curl -sf "$base/api/v1/payouts/verification" -H "x-api-key: $key" -H 'content-type: application/json' -d @- >/dev/null <<JSON
{"email": "ops@example.com", "businessType": "company", "businessUrl": "https://example.com",
 "documentUrl": "http://127.0.0.1:$doc_port/id.pdf",
 "bank": {"accountNumber": "000123456789", "accountHolderName": "Contract Sandbox", "routingNumber": "110000000"},
 "company": {"name": "Contract Sandbox", "taxId": "12-3456789",
             "address": {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
             "representative": {"firstName": "Ada", "lastName": "Lovelace"}}}
JSON
for _ in $(seq 1 100); do
  curl -sf "$base/api/v1/payouts/account" -H "x-api-key: $key" | grep -q '"status":"verified"' && break
  sleep 0.1
done
curl -sf "$base/api/v1/payouts/account" -H "x-api-key: $key" | grep -q '"status":"verified"' \
  || { echo "contract: the sandbox payout account did not become verified" >&2; cat "$work/serve.log"; exit 2; }

rm -f "$junit"
status=0
"$st" run "$base/openapi.json" -H "x-api-key: $key" --report junit --report-junit-path "$junit" "$@" || status=$?
python3 - "$junit" "$status" <<'PY'
import sys, xml.etree.ElementTree as ET
path, status = sys.argv[1], int(sys.argv[2])
try:
    suite = ET.parse(path).getroot()
    tests = int(suite.get("tests"))
    failed = int(suite.get("failures")) + int(suite.get("errors"))
except (OSError, ET.ParseError, TypeError):
    tests, failed = 1, 1  # no report: schemathesis itself failed
if status and not failed:
    failed = 1  # it exited non-zero for a reason the report does not count
verdict = "FAILED" if failed else "ok"
print(f"test result: {verdict}. {tests - failed} passed; {failed} failed; (schemathesis, one per operation and the stateful phase)")
PY
exit "$status"
