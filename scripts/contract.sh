#!/usr/bin/env bash
# `make contract`: serves the API on a free port with a fresh SQLite database,
# the rate limiter lifted, a ready sandbox organization and a second one (for
# object_level_authorization), then runs schemathesis against each API
# version's document (`/openapi.json?version=V`, every request sent with
# `Commet-Version: V`; versions from CONTRACT_API_VERSIONS) with a fresh seed
# (printed; CONTRACT_SEED=N replays it); then against the operator API's
# document (/operator/openapi.json) with an operator token, configured by
# schemathesis-operator.toml.
# Usage: scripts/contract.sh PAYOUTS_BINARY SCHEMATHESIS_BINARY JUNIT_PATH [st run options...]
# JUNIT_PATH gets one report per version (`junit.xml` → `junit-V.xml`).
# JUNIT_PATH gets one JUnit and one JSON run report per run (`junit.xml` →
# `junit-V.xml`, `junit-V.json`); scripts/contract_verdict.py reads them and
# ends with a `test result: ... N passed; M failed; K skipped` line that
# `make test` counts with the cargo test runs. Any failure, warning, missing
# report, or stateful phase that did not run, in any run, exits non-zero.
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

# The loopback peer (allow-listed below): it serves the identity document,
# so that the organization can be verified through the API itself, and
# receives every webhook delivery (the hooks point endpoint URLs at it).
mkdir "$work/docs" && printf '%%PDF-1.4 contract test document' > "$work/docs/id.pdf"
doc_port=$(free_port)
python3 scripts/contract_receiver.py "$doc_port" "$work/docs" >"$work/receiver.log" 2>&1 &
pids+=($!)
export CONTRACT_RECEIVER="http://127.0.0.1:$doc_port"

port=$(free_port)
base="http://127.0.0.1:$port"
export DATABASE_URL="sqlite://$work/contract.db?mode=rwc"
export PAYOUTS_BIND="127.0.0.1:$port"
export PAYOUTS_SANDBOX_DELAY_MS=50
export PAYOUTS_DOCUMENT_ALLOW_HOSTS="127.0.0.1:$doc_port"
export PAYOUTS_LOG=warn
export PAYOUTS_ENCRYPTION_KEY=$(python3 -c "import secrets; print(secrets.token_hex(32))")
# As `make bench` does: throttling would hide what a case got (429 is not an
# accepted answer in schemathesis.toml).
export PAYOUTS_RATE_LIMIT_PER_SECOND=1000000
export PAYOUTS_RATE_LIMIT_BURST=1000000
# Known to the hooks, which sign webhook bodies with it.
export PAYOUTS_SANDBOX_WEBHOOK_SECRET=$(python3 -c "import secrets; print('whsec_' + secrets.token_hex(16))")
# The operator API's token (its hash in the service's configuration).
op_token=$("$bin" operator-token create | json_field token)
export PAYOUTS_OPERATOR_TOKENS=$(python3 -c "import hashlib,sys; print('sha256:' + hashlib.sha256(sys.argv[1].encode()).hexdigest())" "$op_token")

org=$("$bin" org create --name "Contract Sandbox")
org_id=$(json_field organizationId <<<"$org")
key=$(json_field apiKey <<<"$org")
# Far more than all the payouts of a run can take: a 402 would be a bug.
"$bin" balance credit --org "$org_id" --amount 1000000000000000 >/dev/null
# A second organization: its key must never reach the first one's objects.
other_key=$(json_field apiKey <<<"$("$bin" org create --name "Contract Other")")
export CONTRACT_AUTH_FILE="$work/identities.json"
cat >"$CONTRACT_AUTH_FILE" <<JSON
{"auth": [
  {"name": "org_a", "fixedHeaders": [{"name": "x-api-key", "value": "$key"}]},
  {"name": "org_b", "fixedHeaders": [{"name": "x-api-key", "value": "$other_key"}]}
]}
JSON

"$bin" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "$CONTRACT_RECEIVER/id.pdf" >/dev/null && break
  sleep 0.1
done
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

# A payout of the first organization, for POST /payouts/{id}/cancel (see
# schemathesis.toml): without an id that exists, every case would be a 404.
export CONTRACT_PAYOUT_ID=$(curl -sf "$base/api/v1/payouts" -H "x-api-key: $key" \
  -H 'content-type: application/json' -d '{"amount": 1000}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')

seed=${CONTRACT_SEED:-$(python3 -c 'import secrets; print(secrets.randbits(64))')}
echo "contract: seed $seed (replay with CONTRACT_SEED=$seed make contract)"
export SCHEMATHESIS_HOOKS=contract_hooks
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
versions=${CONTRACT_API_VERSIONS:-2026-07-11 2026-07-24}
runs=()
for version in $versions; do
  report="${junit%.xml}-$version.xml" json="${junit%.xml}-$version.json"
  rm -f "$report" "$json"
  echo "contract: API version $version ($base/openapi.json?version=$version, header Commet-Version: $version)"
  status=0
  "$st" run "$base/openapi.json?version=$version" -H "Commet-Version: $version" --seed "$seed" \
    --report junit,json --report-junit-path "$report" --report-json-path "$json" "$@" || status=$?
  runs+=("$version" "$report" "$json" "$status")
done
# The operator API: its own document and configuration, the operator token.
report="${junit%.xml}-operator.xml" json="${junit%.xml}-operator.json"
rm -f "$report" "$json"
echo "contract: operator API ($base/operator/openapi.json)"
status=0
"$st" --config-file schemathesis-operator.toml run "$base/operator/openapi.json" \
  -H "Authorization: Bearer $op_token" --seed "$seed" \
  --report junit,json --report-junit-path "$report" --report-json-path "$json" "$@" || status=$?
runs+=("operator" "$report" "$json" "$status")
# Warnings, phases and errors come from the JSON run reports, not the terminal.
# On a failure the cause of a 500 is in the service's log (warnings and
# errors, PAYOUTS_LOG=warn), not in schemathesis' report: show its end.
python3 scripts/contract_verdict.py "${runs[@]}" || {
  code=$?
  echo "contract: the end of the service's log (warnings and errors):"
  tail -n 60 "$work/serve.log"
  exit "$code"
}
