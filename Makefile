# The two commands a user needs: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# One log per step (so `make -j` steps never write over each other); the
# summary at the end of `make test` reads them all.
TEST_LOGS := target/test-logs
CARGO ?= cargo
# PostgreSQL for the second half of the suite (CI sets it; see .ci/run).
TEST_DATABASE_URL ?=

.PHONY: run release test spec fmt fmt-check lint test-sqlite test-postgres test-sdk contract bench readme-flow lint-spec

run:
	$(CARGO) build --release
	@echo
	@echo "  Swagger UI:  http://$${PAYOUTS_BIND:-127.0.0.1:8080}/docs"
	@echo "  An organization and its API key (in another terminal):"
	@echo "    ./target/release/payouts org create --name Acme"
	@echo "    ./target/release/payouts balance credit --org <organizationId> --amount 50000"
	@echo
	./target/release/payouts serve

# Everything CI runs. The last line counts each test once and says whether
# the PostgreSQL half ran (on SQLite every write is serialized, so the
# concurrency tests can only fail on PostgreSQL).
test: fmt-check lint release test-sqlite test-postgres test-sdk contract readme-flow lint-spec
	@scripts/test_summary.sh $(TEST_LOGS)

# The binary `make run` serves: release builds can fail where debug ones pass.
release:
	$(CARGO) build --release --bin payouts

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The workspace's unit tests, integration tests and doc tests, on SQLite.
test-sqlite:
	@mkdir -p $(TEST_LOGS)
	@echo "== tests on SQLite =="
	TEST_DATABASE_URL= $(CARGO) test --workspace 2>&1 | tee $(TEST_LOGS)/sqlite.log

# The integration tests again, on PostgreSQL (the unit tests touch no
# database: they ran once, above).
test-postgres:
	@mkdir -p $(TEST_LOGS)
	@if [ -z "$(TEST_DATABASE_URL)" ]; then \
	  echo "postgres: SKIPPED (TEST_DATABASE_URL unset)" > $(TEST_LOGS)/postgres.log; \
	  echo; \
	  echo "################################################################"; \
	  echo "##  WARNING: TEST_DATABASE_URL is not set.                    ##"; \
	  echo "##  The PostgreSQL half of the suite DID NOT RUN.             ##"; \
	  echo "##  e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make test"; \
	  echo "################################################################"; \
	  echo; \
	else \
	  echo "== tests on PostgreSQL ($(TEST_DATABASE_URL)) =="; \
	  TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(CARGO) test --workspace --test '*' 2>&1 | tee $(TEST_LOGS)/postgres.log; \
	fi

# Commet's official SDKs (PyPI commet-sdk, npm @commet/node, pinned under
# tests/sdk) against the service on SQLite; needs python3 (with venv) and
# node + npm. Writes its results to its own log.
test-sdk:
	@mkdir -p $(TEST_LOGS)
	CARGO="$(CARGO)" TEST_LOG="$(TEST_LOGS)/sdk.log" tests/sdk/run.sh

# Rewrites the committed OpenAPI documents from the handlers: openapi.yaml
# (the default API version's), one openapi-<version>.yaml per other version,
# and operator-openapi.yaml (the operator API's).
DEFAULT_API_VERSION := 2026-07-11
API_VERSIONS := 2026-07-24
SPEC_FILES := openapi.yaml $(foreach v,$(API_VERSIONS),openapi-$(v).yaml) operator-openapi.yaml
spec:
	$(CARGO) run --quiet -- spec > openapi.yaml
	@for v in $(API_VERSIONS); do \
	  echo "$(CARGO) run --quiet -- spec --api-version $$v > openapi-$$v.yaml"; \
	  $(CARGO) run --quiet -- spec --api-version $$v > openapi-$$v.yaml || exit 1; \
	done
	$(CARGO) run --quiet -- spec --operator > operator-openapi.yaml

# Figures under load beside their ceilings, measured in one run; writes
# bench/RESULTS.md. PostgreSQL from BENCH_DATABASE_URL or TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/test). Not part of `make test`.
bench:
	$(CARGO) build --release -p payouts -p payouts-bench
	./target/release/payouts-bench
# Schemathesis against the running service (scripts/contract.sh): every
# check, every phase, bounded to a few minutes. Its settings, and the reason
# for each accepted business refusal, are in schemathesis.toml.
ST_VERSION := 4.32.5
VENV := .venv
ST_STAMP := $(VENV)/schemathesis-$(ST_VERSION)
CONTRACT_OPTS ?= --checks all --phases examples,coverage,fuzzing,stateful \
  -n 20 -w 1 --max-time 300

# The virtual environment and the pinned schemathesis, created on first use.
$(ST_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'schemathesis==$(ST_VERSION)'
	@touch $@

contract: $(ST_STAMP)
	$(CARGO) build --quiet
	@mkdir -p target/contract $(TEST_LOGS)
	@echo "== contract: schemathesis $(ST_VERSION) =="
	@# The verdict's own checks first (made-up reports): a missing report or a warning must fail.
	@cd scripts && python3 -m unittest -q test_contract_verdict 2>&1 | tail -1
	@# The run's settings, with the pinned schemathesis: its default warnings on, no 401/403 for valid cases.
	@cd scripts && ../$(VENV)/bin/python -m unittest -q test_contract_config 2>&1 | tail -1
	CONTRACT_API_VERSIONS="$(DEFAULT_API_VERSION) $(API_VERSIONS)" \
	  scripts/contract.sh target/debug/payouts $(VENV)/bin/st target/contract/junit.xml \
	  $(CONTRACT_OPTS) 2>&1 | tee $(TEST_LOGS)/contract.log

# The README's copy-paste blocks (quickstart, operator API, API versions),
# run as written against the release binary (scripts/readme-flow.sh); their
# result lines go to their own log.
readme-flow: release
	@mkdir -p $(TEST_LOGS)
	@echo "== the README's blocks =="
	scripts/readme-flow.sh 2>&1 | tee $(TEST_LOGS)/readme-flow.log

# Redocly's recommended rules over every committed document (openapi.yaml
# and each openapi-<version>.yaml; config and the reason for each rule turned
# off: redocly.yaml). The pinned CLI is installed into .redocly/ on first
# use; needs node and npm. Its one `test result:` line goes to its own log,
# counted by `make test`'s summary.
REDOCLY_VERSION := 2.77.0
REDOCLY_DIR := .redocly
REDOCLY_STAMP := $(REDOCLY_DIR)/redocly-cli-$(REDOCLY_VERSION)

$(REDOCLY_STAMP):
	npm install --prefix $(REDOCLY_DIR) --no-save --no-audit --no-fund --loglevel=error '@redocly/cli@$(REDOCLY_VERSION)'
	@touch $@

lint-spec: $(REDOCLY_STAMP)
	@mkdir -p $(TEST_LOGS)
	@echo "== lint-spec: @redocly/cli $(REDOCLY_VERSION) =="
	@if $(REDOCLY_DIR)/node_modules/.bin/redocly lint --config redocly.yaml $(SPEC_FILES); then \
	  echo "test result: ok. 1 passed; 0 failed; (redocly lint $(SPEC_FILES))" | tee $(TEST_LOGS)/lint-spec.log; \
	else \
	  echo "test result: FAILED. 0 passed; 1 failed; (redocly lint $(SPEC_FILES))" | tee $(TEST_LOGS)/lint-spec.log; exit 1; \
	fi
