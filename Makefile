# Two commands on a fresh machine: `make demo` and `make test`. Both create what is missing
# (Python venv from the lock file, npm packages from package-lock.json) and are idempotent:
# with everything in place the set-up steps are timestamp checks only.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
APE_VENV := .venv-ape
PY := $(VENV)/bin/python
NPM_STAMP := node_modules/.attestia-installed
PY_STAMP := $(VENV)/.attestia-installed
APE_STAMP := $(APE_VENV)/.attestia-installed
SLITHER_VENV := .venv-slither
SLITHER_STAMP := $(SLITHER_VENV)/.attestia-installed
# The fast suite runs in one pytest-xdist process per core, at most 4 (each has its own Anvil
# and session fixtures; a test module stays in one process, so module fixtures are shared, and
# the modules on the explorer's session flow share one process: tests/conftest.py).
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadgroup

.PHONY: setup demo test test-slow test-fast lint bench ape-check ape-setup forge-test slither chain-down clean chromium qemu

setup: $(PY_STAMP) $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "error: node is not installed (need Node.js 20)"; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm is not installed (need npm with Node.js 20)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

$(PY_STAMP): requirements/lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || { echo "error: Python 3.11+ is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/lock.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

demo: setup
	$(VENV)/bin/attestia demo

# ruff, mypy, the Python suite (Anvil, Ganache, browsers where present), then the Solidity
# fuzz/invariant suite and slither over the contracts.
# The slow tests (marked `slow`: `make demo` from a fresh clone, the longest chain-loss,
# kill-loop, watch, stateful, slow-file and multi-process CLI tests) and the forge suite at full
# depth (256 runs x depth 100 per invariant; `make test` runs foundry.toml's `quick` profile)
# run in `make test-slow`; CI (.ci/run) runs both. --durations=30 lists the slowest tests:
# where to look when make test grows past its 12-minute budget.
test: setup $(SLITHER_STAMP) chromium
	$(VENV)/bin/ruff check offchain tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_PARALLEL) --durations=30
	FOUNDRY_PROFILE=quick scripts/forge_test.sh
	scripts/slither.sh

test-slow: setup qemu
	$(VENV)/bin/pytest -m slow
	scripts/forge_test.sh

test-fast: setup
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_PARALLEL) --durations=30

bench: setup
	$(PY) bench/gas.py
	$(PY) bench/attribution.py
	$(PY) bench/pipeline.py
	$(PY) bench/inference.py
	$(PY) bench/zk.py
	$(PY) bench/explorer.py
	$(PY) bench/dispute.py
	$(PY) bench/output_dispute.py
	$(PY) bench/settlement.py

# The explorer's browser tests (tests/explorer/test_browser.py) drive Debian's Chromium through
# Playwright (no downloaded browser). Installed here when missing, if we run as root with
# apt-get (~51 s, once); otherwise those tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Chromium for the explorer's browser tests (apt-get install chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
	  echo "warning: could not install Chromium; the browser tests will be skipped"; \
	fi

# The integer-inference test compares outputs natively and under an emulated SSE-only CPU
# (tests/models/test_integer_vs_float.py, slow): qemu-user from Debian, installed here when
# missing if we run as root with apt-get (~9 s, once); otherwise that test skips and says why.
qemu:
	@if ! command -v qemu-x86_64 >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing qemu-user for the SSE-only CPU test (apt-get install qemu-user)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q qemu-user >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q qemu-user >/dev/null 2>&1; } || \
	  echo "warning: could not install qemu-user; the SSE-only CPU test will be skipped"; \
	fi

$(APE_STAMP): requirements/ape.lock $(NPM_STAMP)
	test -x $(APE_VENV)/bin/python || $(PYTHON) -m venv $(APE_VENV)
	$(APE_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/ape.lock
	@touch $@

# make ape-check [APE_PORT=N]: Anvil on port N (default: a free port).
ape-check: setup $(APE_STAMP)
	$(PY) scripts/ape_check.py $(if $(APE_PORT),--port $(APE_PORT))

# The Ape venv plus the solc-js link it compiles with: the README's by-hand Ape commands.
ape-setup: setup $(APE_STAMP)
	$(PY) scripts/ape_check.py --link

# Solidity fuzz + invariant suite (tests/forge/, foundry.toml): forge 1.7.1 from npm, offline.
forge-test: $(NPM_STAMP)
	scripts/forge_test.sh

# Slither in its own venv (requirements/slither.lock); accepted findings: docs/slither.md.
$(SLITHER_STAMP): requirements/slither.lock
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/slither.lock
	@touch $@

slither: $(NPM_STAMP) $(SLITHER_STAMP)
	scripts/slither.sh

chain-down:
	-$(VENV)/bin/attestia chain down

clean: chain-down
	rm -rf build .attestia .forge deployments/31337.json
