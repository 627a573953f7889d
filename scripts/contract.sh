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
# Ends with a `test result: ... N passed; M failed; K skipped` line (from the
# JUnit reports) that `make test` counts with the cargo test runs, and exits
# non-zero on any failure, a missing report or a stateful phase that did not
# run, in any version.
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
# Webhook endpoints the run creates point at generated hosts: deliveries and
# tests to them give up after 1 s rather than 10.
export PAYOUTS_WEBHOOK_TIMEOUT_MS=1000
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
  report="${junit%.xml}-$version.xml"
  rm -f "$report"
  echo "contract: API version $version ($base/openapi.json?version=$version, header Commet-Version: $version)"
  status=0
  "$st" run "$base/openapi.json?version=$version" -H "Commet-Version: $version" --seed "$seed" \
    --report junit --report-junit-path "$report" "$@" \
    | tee "$work/st-$version.out" || status=$?
  # A warning is a finding too (e.g. "operations mostly rejected generated data").
  warnings=$(grep -c -E '^(⚠️|WARNING)|Warnings?:' "$work/st-$version.out" || true)
  runs+=("$version" "$report" "$status" "$warnings")
done
# The operator API: its own document and configuration, the operator token.
report="${junit%.xml}-operator.xml"
rm -f "$report"
echo "contract: operator API ($base/operator/openapi.json)"
status=0
"$st" --config-file schemathesis-operator.toml run "$base/operator/openapi.json" \
  -H "Authorization: Bearer $op_token" --seed "$seed" \
  --report junit --report-junit-path "$report" "$@" \
  | tee "$work/st-operator.out" || status=$?
warnings=$(grep -c -E '^(⚠️|WARNING)|Warnings?:' "$work/st-operator.out" || true)
runs+=("operator" "$report" "$status" "$warnings")
python3 - "${runs[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET
args = sys.argv[1:]
problems = []
tests = failed = skipped = 0
for i in range(0, len(args), 4):
    version, path, status, warnings = args[i], args[i + 1], int(args[i + 2]), int(args[i + 3])
    run_tests = run_failed = 0
    try:
        root = ET.parse(path).getroot()
        cases = list(root.iter("testcase"))
        run_tests = len(cases)
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                run_failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
        if not any("stateful" in (case.get("name") or "").lower() for case in cases):
            problems.append(f"{version}: the stateful phase did not run")
        if run_tests == 0:
            problems.append(f"{version}: the report has no test case")
    except (OSError, ET.ParseError) as err:
        problems.append(f"{version}: no JUnit report ({err})")
    if status and not run_failed:
        problems.append(f"{version}: schemathesis exited {status}")
    if warnings:
        problems.append(f"{version}: schemathesis printed {warnings} warning line(s)")
    tests += run_tests
    failed += run_failed
for problem in problems:
    print(f"contract: {problem}", file=sys.stderr)
passed = tests - skipped - failed
failed += len(problems)
verdict = "FAILED" if failed else "ok"
print(f"test result: {verdict}. {passed} passed; {failed} failed; {skipped} skipped; (schemathesis, one per operation and the stateful phase, per API version and for the operator API)")
sys.exit(1 if failed else 0)
PY
