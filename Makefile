# devteam-runner: `make run` starts the service, `make test` runs every check on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AIDER_VENV := .venv-aider
AIDER_VERSION := 0.86.2
STAMP := $(VENV)/.installed

.PHONY: install aider node-toolchain browser postgres run test lint typecheck pytest schemathesis bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(STAMP)

# aider pins its own dependencies, so it lives in a virtualenv of its own (as in the Dockerfile).
$(AIDER_VENV)/bin/aider:
	$(PYTHON) -m venv $(AIDER_VENV)
	$(AIDER_VENV)/bin/pip install --quiet --disable-pip-version-check 'aider-chat==$(AIDER_VERSION)'

aider: $(AIDER_VENV)/bin/aider

# The pinned TypeScript toolchain (vitest + istanbul + tsc) the VERIFY tests run against.
TS_TOOLCHAIN := tests/fixtures/ts-toolchain
$(TS_TOOLCHAIN)/node_modules/.package-lock.json: $(TS_TOOLCHAIN)/package-lock.json
	npm ci --prefix $(TS_TOOLCHAIN) --no-audit --no-fund --loglevel=error

# The jest + babel toolchain of the field fixtures: installing it fills npm's cache, so the
# runner's own installs in the tests (fresh clones, no node_modules) need no download.
JEST_TOOLCHAIN := tests/fixtures/jest-toolchain
$(JEST_TOOLCHAIN)/node_modules/.package-lock.json: $(JEST_TOOLCHAIN)/package-lock.json
	npm ci --prefix $(JEST_TOOLCHAIN) --no-audit --no-fund --loglevel=error --ignore-scripts

node-toolchain: $(TS_TOOLCHAIN)/node_modules/.package-lock.json $(JEST_TOOLCHAIN)/node_modules/.package-lock.json

# The dashboard's browser tests (tests/web): Debian's chromium, driven by Playwright (from the
# dev extra; never `playwright install`, which downloads a browser), and pinned axe-core.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	  || ($(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

AXE := tests/fixtures/axe
$(AXE)/node_modules/.package-lock.json: $(AXE)/package-lock.json
	npm ci --prefix $(AXE) --no-audit --no-fund --loglevel=error --ignore-scripts

browser: $(CHROMIUM) $(AXE)/node_modules/.package-lock.json

# The store tests run on SQLite and on a throwaway PostgreSQL server they start themselves
# (tests/helpers/postgres.py: initdb into a temp dir): Debian's server package provides it.
# DEVTEAM_REQUIRE_POSTGRES=1 (below) turns a missing server into failures, never skips.
PG_INSTALLED = ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null
postgres:
	@$(PG_INSTALLED) || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql \
	  || ($(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql)
	@$(PG_INSTALLED) || (echo "PostgreSQL is still missing after apt-get install" >&2; exit 1)

run: install aider
	mkdir -p var
	AIDER_PATH=$${AIDER_PATH:-$(CURDIR)/$(AIDER_VENV)/bin/aider} $(BIN)/devteam-runner serve

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

typecheck: install
	$(BIN)/mypy --strict runner

pytest: install aider node-toolchain browser postgres
	DEVTEAM_REQUIRE_POSTGRES=1 AIDER_TEST_PATH=$(CURDIR)/$(AIDER_VENV)/bin/aider $(BIN)/pytest --cov=runner --cov-report=term --cov-fail-under=85

schemathesis: install
	$(BIN)/python tests/schemathesis_run.py

test: lint typecheck pytest schemathesis

bench: install aider postgres
	for b in bench/[a-z]*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(AIDER_VENV) $(TS_TOOLCHAIN)/node_modules $(JEST_TOOLCHAIN)/node_modules $(AXE)/node_modules var .pytest_cache .mypy_cache .ruff_cache .coverage
