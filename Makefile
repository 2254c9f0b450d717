# The two commands of the README: `make demo` sets everything up and runs the main job on
# the built-in simulator; `make test` runs the whole test suite (CI runs it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# dlt, the baseline of bench.speed: installed by `make bench` only, never for tests or CI.
BENCH_INSTALLED := $(VENV)/.bench-installed

.PHONY: demo test lint pytest bench soak simulate ui screenshot postgres browser clean

demo: $(INSTALLED)
	$(BIN)/waap-sessions demo

test: lint pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy waap_sessions bench

pytest: $(INSTALLED)
	$(BIN)/pytest -n auto --dist loadgroup

bench: $(BENCH_INSTALLED)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.lake
	$(BIN)/python -m bench.speed

# The fault matrix (README, "Under faults"): a few minutes, outside `make test` too.
soak: $(INSTALLED)
	$(BIN)/python -m bench.soak

simulate: $(INSTALLED)
	$(BIN)/waap-sessions simulate

# The Dagster UI on http://127.0.0.1:3000, every resource pointed at the simulator.
ui: $(INSTALLED)
	$(BIN)/waap-sessions dev

# The README's picture of the Dagster UI after the demo, taken by the demo's browser test
# (it needs Chromium, `make browser`: CI=true makes a missing one fail, not skip).
screenshot: $(INSTALLED)
	WAAP_SCREENSHOT=docs/dagster-ui-after-demo.png CI=true $(BIN)/pytest \
		waap_sessions_tests/test_demo.py::test_the_ui_shows_what_the_demo_materialized

# Debian's PostgreSQL server, for the tests of a PostgreSQL catalog (they start their own
# on loopback; without it they are skipped, except on CI). Needs root, as CI has.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

# Debian's Chromium and its chromedriver, for the UI tests in a headless browser (without
# them they are skipped, except on CI). Needs root, as CI has.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver; }

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed: make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $(BENCH_INSTALLED)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .dagster_home data *.egg-info
