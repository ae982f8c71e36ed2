# Sift: the one door. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
PORT ?= 8501
API_HOST ?= 127.0.0.1
API_PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run serve demo test test-pg test-e2e test-real lint format bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# stamps: reinstall only when a requirements file changes
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(PIP) install -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime ## load the bundled rice data and train a first model, if missing
	$(BIN)/python -m core demo

run: demo ## install, prepare the demo, and serve the app on http://localhost:8501
	$(BIN)/streamlit run streamlit_app.py --server.port $(PORT)

serve: demo ## install, prepare the demo, and serve the scoring API on http://127.0.0.1:8000 (API_HOST, API_PORT)
	$(BIN)/python -m core serve --host $(API_HOST) --port $(API_PORT)

# two workers: every test has its own home (SQLite file, MLflow store), so they run side by side
test: $(VENV)/.dev ## run the test suite (SQLite; no browser or PostgreSQL needed)
	$(BIN)/python -m pytest -n 2

# needs a PostgreSQL admin URL, e.g. postgresql+psycopg://sift:sift@127.0.0.1:5432/postgres (.ci/run sets one up)
test-pg: $(VENV)/.dev ## run the core and command-line suites, the shared-tuning tests and two API instances on PostgreSQL (SIFT_TEST_DB_URL)
	@test -n "$(SIFT_TEST_DB_URL)" || { echo "Set SIFT_TEST_DB_URL to a PostgreSQL admin URL (see README)."; exit 2; }
	$(BIN)/python -m pytest tests/core tests/cli tests/api/test_instances.py -m "not e2e"

test-e2e: $(VENV)/.dev ## drive the real app in headless Chromium (Debian's chromium package)
	$(BIN)/python -m pytest -m e2e

test-real: $(VENV)/.dev ## the whole loop on a dozen public tables that packages ship (two at a time)
	$(BIN)/python -m pytest -m real -n 2 tests/real

lint: $(VENV)/.dev ## ruff (lint, format check) and import-linter (the direction of dependencies)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev ## ruff: fix what can be fixed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev ## run the benchmarks and print their figures
	$(BIN)/python -m bench

clean: ## remove the virtual environment and caches (keeps data and models)
	rm -rf $(VENV) .pytest_cache .ruff_cache
