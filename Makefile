# `make demo` sets up and runs the demo clinic CRM on SQLite; `make test` sets up, lints and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
# ruff lints and checks the formatting of all our Python; mypy (configured in pyproject.toml) types builder and engines.
LINT_PATHS := builder engines tests bench

.PHONY: demo test lint install browser clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it via executable_path),
# and a CJK font so screenshots of the Chinese interface show characters, not boxes.
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wqy; then \
		if [ "$$(id -u)" = "0" ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null) \
			|| echo "chromium could not be installed: browser tests will skip"; \
		else echo "not root: install the packages $(BROWSER_PACKAGES) to run browser tests"; fi; \
	fi

demo: install
	$(BIN)/crm demo $(DEMO_DIR)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

test: install browser lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 -rs

# bench/workflows.py needs the local PostgreSQL server (BENCH_PG); it makes and drops its own database.
bench: install
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/api.py
	PYTHONPATH=. $(BIN)/python bench/workflows.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) *.egg-info
