# jwtd — `make run` starts the server on SQLite; `make test` runs every test.
CARGO ?= cargo
JWTD_BIND ?= 127.0.0.1:8000
DEMO_PAGE_PORT ?= 8080
DEMO_JWTD_PORT ?= 8000
SCHEMATHESIS_VERSION ?= 4.32.5
SCHEMATHESIS_EXAMPLES ?= 25
# Where cargo puts its builds (honours CARGO_TARGET_DIR, as cargo does).
TARGET_DIR ?= $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),target)

.PHONY: run build release test fuzz check lint fmt deps migrate bench bench-keys e2e demo e2e-browser schemathesis clean

run: ## Serve on the embedded SQLite default (./jwtd.db), migrating first.
	$(CARGO) run --release -p jwtd -- serve --bind $(JWTD_BIND)

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p jwtd

test: ## Unit and integration tests; PostgreSQL/MySQL too when JWTD_TEST_POSTGRES_URL/JWTD_TEST_MYSQL_URL are set.
	@if [ -z "$$JWTD_TEST_POSTGRES_URL" ]; then echo "NOTE: JWTD_TEST_POSTGRES_URL is not set: the PostgreSQL variants of the integration tests will report SKIPPED"; fi
	@if [ -z "$$JWTD_TEST_MYSQL_URL" ]; then echo "NOTE: JWTD_TEST_MYSQL_URL is not set: the MySQL variants of the integration tests will report SKIPPED"; fi
	$(CARGO) build -p jwtd
	$(CARGO) test --workspace

# The property tests (proptest, on the stable toolchain) run with a few cases in `make test`;
# here with FUZZ_CASES each: token decoding, the Authorization header parser, and every body
# extractor and header through the router.
FUZZ_CASES ?= 20000
fuzz: ## Property tests with many cases (FUZZ_CASES, default 20000).
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p auth-core fuzz
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p api fuzz
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p integration-tests --test api fuzz

deps: ## auth-core must stay free of I/O crates.
	@! $(CARGO) tree -p auth-core -e normal | grep -qE 'tokio|sea-orm|axum' || (echo "auth-core depends on an I/O crate" && false)
	@echo "auth-core is free of tokio, sea-orm and axum"

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: lint deps test

migrate: ## Apply migrations to JWTD_DATABASE_URL (default sqlite://jwtd.db).
	$(CARGO) run --release -p jwtd -- migrate

# Two builds: the jwtd measured is the one `make release` and `cargo build --release` give,
# with the same features. Three runs of the scenario list: the summary gives each ratio's
# median over them.
bench: ## Load benchmark of the release binary (not part of `make test`).
	$(CARGO) build --release -p jwtd
	$(CARGO) build --release -p jwtd-bench
	./target/release/jwtd-bench --jwtd ./target/release/jwtd --repeat 3

# `me` and `refresh` signed with ES256 and with EdDSA, each beside `healthz` in its own run
# (the ratios to it are the comparable numbers); results beside the HS256 ones.
bench-keys: ## Load benchmark of `me` and `refresh` with ES256 and EdDSA keys.
	$(CARGO) build --release -p jwtd
	$(CARGO) build --release -p jwtd-bench
	for alg in ES256 EdDSA; do \
		./target/release/jwtd-bench --jwtd ./target/release/jwtd --repeat 3 \
			--algorithm $$alg --scenarios healthz,me,refresh \
			--out bench/results/latest-$$alg.json || exit 1; \
	done

e2e: ## The curl walkthrough of the README against a fresh release binary.
	$(CARGO) build --release -p jwtd
	bash scripts/e2e.sh $(TARGET_DIR)/release/jwtd

demo: ## The SPA example (port DEMO_PAGE_PORT) and jwtd in cookie mode (DEMO_JWTD_PORT); Ctrl-C stops both.
	$(CARGO) build --release -p jwtd
	bash scripts/spa-demo.sh $(TARGET_DIR)/release/jwtd $(DEMO_PAGE_PORT) $(DEMO_JWTD_PORT)

# Debian's Chromium (never a downloaded browser) driven by playwright-core from e2e/node_modules;
# scripts/e2e-browser-deps.sh installs both. ONLY=text runs the scenarios whose name has it.
e2e-browser: ## The SPA example and clients/js in headless Chromium, cookie and body mode.
	$(CARGO) build --release -p jwtd
	@test -d e2e/node_modules/playwright-core || (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	JWTD_BIN=$(TARGET_DIR)/release/jwtd node e2e/run.mjs

# schemathesis from PyPI, pinned, in a venv of its own under the target directory.
SCHEMATHESIS_VENV = $(TARGET_DIR)/schemathesis-venv
schemathesis: ## The API against its own /openapi.json: no 5xx, every response as documented.
	$(CARGO) build -p jwtd
	@# A venv names its own path in its scripts: one moved or copied with the target
	@# directory does not run, and is made again.
	@test -f $(SCHEMATHESIS_VENV)/.installed-$(SCHEMATHESIS_VERSION) && \
		$(SCHEMATHESIS_VENV)/bin/schemathesis --version >/dev/null 2>&1 || ( \
		rm -rf $(SCHEMATHESIS_VENV) && python3 -m venv $(SCHEMATHESIS_VENV) && \
		$(SCHEMATHESIS_VENV)/bin/pip install --quiet schemathesis==$(SCHEMATHESIS_VERSION) && \
		touch $(SCHEMATHESIS_VENV)/.installed-$(SCHEMATHESIS_VERSION))
	bash scripts/schemathesis.sh $(TARGET_DIR)/debug/jwtd $(SCHEMATHESIS_VENV) $(SCHEMATHESIS_EXAMPLES)

clean:
	$(CARGO) clean
