# casebinder — `make run` serves the demo, `make test` runs the suite (`make test-fast`: the quick part, on SQLite, while
# developing; `make test` stays the gate), `make bench` prints the benchmarks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEPS_STAMP := $(VENV)/.locked
# Pinned, hashed dependencies: the server's, and the server's plus the tools' for development and CI.
LOCK_SERVER := requirements/server.txt
LOCK_DEV := requirements/dev.txt
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL leg of `make test`; skipped when unreachable, except under CI where it must run.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

# Every process the suite starts (servers, workers, build and text processes, commands) imports the project: with
# its bytecode cached it does not compile every module again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install lock run test test-fast test-sqlite test-postgres bench loadtest lint clean system-deps

install: $(STAMP)

# The locked dependencies, then the project over them; `pip check` catches a lock older than pyproject.toml.
$(DEPS_STAMP): $(LOCK_DEV)
	@bash scripts/system-deps.sh
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "casebinder needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK_DEV)
	@touch $(DEPS_STAMP)

$(STAMP): pyproject.toml $(DEPS_STAMP)
	$(BIN)/pip install --quiet --no-deps -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "$(LOCK_DEV) does not satisfy pyproject.toml: run make lock" >&2; exit 1; }
	@touch $(STAMP)

# Re-resolves the locks from pyproject.toml, keeping every pin that still fits; pass LOCK_FLAGS=--upgrade (or
# --upgrade-package NAME) to move pins on. The server's lock is resolved within the dev lock, so both agree.
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(LOCK_FLAGS)
lock: $(DEPS_STAMP)
	$(UV_COMPILE) pyproject.toml --extra dev -o $(LOCK_DEV)
	$(UV_COMPILE) pyproject.toml -c $(LOCK_DEV) -o $(LOCK_SERVER)

system-deps:
	@bash scripts/system-deps.sh

run: install
	$(BIN)/casebinder demo --host $(HOST) --port $(PORT)
	$(BIN)/casebinder serve --host $(HOST) --port $(PORT)

# The two legs share nothing (each has its own databases, data dirs and ports), so they run side by side;
# each leg's output is printed whole when it ends.
test: install
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-fast: install
	@echo "== quick tests on SQLite (not marked slow)"
	$(BIN)/python -m pytest -m "not slow"

# Each leg leaves out what the other runs once: the browser journeys drive the real server in Chromium and run on
# the PostgreSQL leg (the production database); the engine tests (PDF, picture and text engines, which do not depend
# on the database) and the `once` tests (deployment files, the proxy, the S3 store itself, and the others that read no
# database: packaging, the blob stores, sample record sets, search's words) run on the SQLite leg. A leg that runs
# alone runs everything.
test-sqlite: install
	@if $(BIN)/python scripts/db_reachable.py '$(TEST_POSTGRES_URL)' || [ -n "$$CI" ]; then \
		echo "== test suite on SQLite (the browser journeys run on the PostgreSQL leg)"; \
		$(BIN)/python -m pytest -m "not browser"; \
	else \
		echo "== test suite on SQLite"; \
		$(BIN)/python -m pytest; \
	fi

# Run by itself (`make test-postgres`), pass PG_MARKS= to include the engine and once tests. The PostgreSQL leg runs in
# production mode: blobs in a SeaweedFS S3 server and jobs on the PostgreSQL queue, run by two `casebinder worker`
# processes, all started by the test session (tests/s3_server.py, tests/production.py); PG_MODE= runs it embedded.
PG_MARKS ?= not engine and not once
PG_MODE ?= CASEBINDER_TEST_BLOB_BACKEND=s3 CASEBINDER_TEST_JOB_QUEUE=procrastinate
test-postgres: install
	@if $(BIN)/python scripts/db_reachable.py '$(TEST_POSTGRES_URL)'; then \
		echo "== test suite on PostgreSQL ($(TEST_POSTGRES_URL)$(if $(PG_MARKS),; the engine and once tests run on the SQLite leg))"; \
		echo "== $(if $(PG_MODE),production mode: $(PG_MODE) (blobs in SeaweedFS; jobs on the queue; two workers),embedded mode)"; \
		$(PG_MODE) CASEBINDER_TEST_DATABASE_URL='$(TEST_POSTGRES_URL)' $(BIN)/python -m pytest $(if $(PG_MARKS),-m "$(PG_MARKS)"); \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is unreachable, and CI must run the PostgreSQL leg" >&2; exit 1; \
	else \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is unreachable: skipping the PostgreSQL leg" >&2; \
	fi

bench: install
	BENCH_POSTGRES_URL=$${BENCH_POSTGRES_URL-$(TEST_POSTGRES_URL)} $(BIN)/python -m bench

# Production mode on loopback (2 API nodes, 2 workers, PostgreSQL, SeaweedFS) under 50 lawyers for 5 minutes, with
# faults injected; some 10 minutes in all, so not part of `make bench`. LOADTEST_USERS and LOADTEST_SECONDS shorten it.
loadtest: install
	BENCH_POSTGRES_URL=$${BENCH_POSTGRES_URL-$(TEST_POSTGRES_URL)} $(BIN)/python -m bench.loadtest

lint: install
	$(BIN)/ruff check api models tests bench migrations scripts deploy
	$(BIN)/ruff format --check api models tests bench migrations scripts deploy
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache
