#!/usr/bin/env bash
# Drives the service with Commet's official SDKs, unmodified, as installed
# from their registries (versions pinned in requirements.txt and
# node/package-lock.json): starts `payouts serve` on a free loopback port
# with a fresh SQLite database and a local identity-document server, runs
# the Python (pytest) and Node (node --test) suites against it, and writes
# one `test result:` line per suite to its log for `make test`'s total. A
# suite that ran no test fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
log="${TEST_LOG:-$root/target/test-logs/sdk.log}"
case "$log" in /*) ;; *) log="$root/$log" ;; esac
mkdir -p "$(dirname "$log")" && : >"$log"
venv="$root/.venv-sdk"

"${CARGO:-cargo}" build --quiet --bin payouts
bin="$root/target/debug/payouts"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The identity document the verification call fetches.
mkdir "$work/docs"
printf '%%PDF-1.4\n%% identity document\n' > "$work/docs/id.pdf"
doc_port="$(free_port)"
python3 -m http.server "$doc_port" --bind 127.0.0.1 --directory "$work/docs" \
  >"$work/documents.log" 2>&1 &
pids+=($!)

port="$(free_port)"
export DATABASE_URL="sqlite://$work/payouts.db?mode=rwc"
export PAYOUTS_ENCRYPTION_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export PAYOUTS_BIND="127.0.0.1:$port"
export PAYOUTS_SANDBOX_DELAY_MS=100
export PAYOUTS_JOB_POLL_MS=25
# Where the suites' webhook receivers listen (allow-listed like the document server).
py_hook_port="$(free_port)"
node_hook_port="$(free_port)"
export PAYOUTS_PY_WEBHOOK_PORT="$py_hook_port" PAYOUTS_NODE_WEBHOOK_PORT="$node_hook_port"
export PAYOUTS_DOCUMENT_ALLOW_HOSTS="127.0.0.1:$doc_port,127.0.0.1:$py_hook_port,127.0.0.1:$node_hook_port"
export PAYOUTS_LOG=warn
"$bin" migrate >/dev/null
"$bin" serve >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)

# What the tests need to know.
export PAYOUTS_BIN="$bin"
export PAYOUTS_BASE_URL="http://127.0.0.1:$port"
export PAYOUTS_DOCUMENT_URL="http://127.0.0.1:$doc_port/id.pdf"
export COMMET_NO_UPDATE_CHECK=1
export PYTHONDONTWRITEBYTECODE=1

# Both servers up (10 s at most).
python3 - "$PAYOUTS_BASE_URL/healthz" "$PAYOUTS_DOCUMENT_URL" <<'EOF' || { cat "$work/serve.log"; exit 1; }
import sys, time, urllib.request
for _ in range(100):
    try:
        for url in sys.argv[1:]:
            urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF

# Installs only when the pins changed since the last install.
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! cmp -s "$here/requirements.txt" "$venv/.installed-requirements.txt"; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/.installed-requirements.txt"
fi
if ! cmp -s "$here/node/package-lock.json" "$here/node/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/node/package-lock.json" "$here/node/node_modules/.installed-lock.json"
fi

status=0

# The Python suite twice: with the SDK's own version (commet-sdk 9.7.0 sends
# Commet-Version 2026-08-27: the resources themselves) and pinned to the
# seed's 2026-07-11 (the envelope) through the SDK's `api_version`.
for py_version in "" 2026-07-11; do
  label="SDK: Python commet-sdk, ${py_version:+api_version=$py_version}"
  label="${label%, }"
  [ -n "$py_version" ] || label="$label, its default version"
  echo "== $label =="
  set +e
  (cd "$here/python" && COMMET_API_VERSION="$py_version" "$venv/bin/python" -m pytest -q -p no:cacheprovider) 2>&1 | tee "$work/python.out"
  py_status=${PIPESTATUS[0]}
  set -e
  summary="$(tail -n 1 "$work/python.out")"   # e.g. "1 failed, 7 passed in 3.2s"
  passed="$( (grep -Eo '[0-9]+ passed' <<<"$summary" || true) | cut -d' ' -f1)"
  failed="$( (grep -Eo '[0-9]+ (failed|errors?)' <<<"$summary" || true) | awk '{ n += $1 } END { print n + 0 }')"
  if [ "${passed:-0}" -eq 0 ] && [ "${failed:-0}" -eq 0 ]; then
    echo "SDK tests: the Python suite ran no test" >&2
    py_status=1
  fi
  if [ "$py_status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
  echo "test result: $([ "$py_status" -eq 0 ] && echo ok || echo FAILED). ${passed:-0} passed; ${failed:-0} failed; ($label)" | tee -a "$log"
  [ "$py_status" -eq 0 ] || status=1
done

echo "== SDK tests: Node @commet/node =="
set +e
(cd "$here/node" && node --test --test-reporter=tap) 2>&1 | tee "$work/node.out"
node_status=${PIPESTATUS[0]}
set -e
passed="$( (grep -E '^# pass ' "$work/node.out" || true) | tail -n 1 | cut -d' ' -f3)"
failed="$( (grep -E '^# fail ' "$work/node.out" || true) | tail -n 1 | cut -d' ' -f3)"
if [ "${passed:-0}" -eq 0 ] && [ "${failed:-0}" -eq 0 ]; then
  echo "SDK tests: the Node suite ran no test" >&2
  node_status=1
fi
if [ "$node_status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
echo "test result: $([ "$node_status" -eq 0 ] && echo ok || echo FAILED). ${passed:-0} passed; ${failed:-0} failed; (SDK: Node @commet/node)" | tee -a "$log"
[ "$node_status" -eq 0 ] || status=1

# Whatever the SDKs did, the books must balance.
"$bin" ledger verify || status=1

if [ "$status" -ne 0 ]; then
  echo "--- service log ---"
  tail -n 50 "$work/serve.log"
fi
exit "$status"
