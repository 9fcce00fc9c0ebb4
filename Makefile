# `make demo` sets up and runs the demo clinic CRM on SQLite; `make test` sets up, lints and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
PORT ?= 8000
HOST ?= 127.0.0.1
# ruff lints and checks the formatting of all our Python; mypy (configured in pyproject.toml) types builder and engines.
LINT_PATHS := builder engines tests bench

.PHONY: demo test lint install assets browser clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Apache ECharts from the npm registry (package.json, pinned by package-lock.json), served by the app
# itself under /static/vendor/ (no CDN: clinics run on intranets). Without npm the report pages still
# work as tables and say the charts library is not installed. axe-core comes with it: the browser tests inject it.
ECHARTS := node_modules/echarts/dist/echarts.min.js
$(ECHARTS): package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || true; fi
	@if command -v npm >/dev/null 2>&1; then npm ci --omit=dev --no-audit --no-fund --loglevel=error && touch $(ECHARTS); \
	else echo "npm is missing: report charts will show as tables (install npm, then make assets)"; fi
assets: $(ECHARTS)

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

demo: install assets
	$(BIN)/crm demo $(DEMO_DIR) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

test: install assets browser lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 -rs --durations=15

# bench/workflows.py and bench/api.py --workspace need the local PostgreSQL server (BENCH_PG); each makes and drops its own database.
bench: install
	$(BIN)/python bench/rules.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/seed.py
	$(BIN)/python bench/reports.py
	PYTHONPATH=. $(BIN)/python bench/workflows.py
	$(BIN)/python bench/api.py --workspace

clean:
	rm -rf $(VENV) $(DEMO_DIR) *.egg-info node_modules
