# Tapaamo: `make run` to chat with the bot in the Teams emulator, `make test` to check everything.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint typecheck pytest bench manifest clean i18n

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(STAMP) $(NODE_STAMP)
	@mkdir -p var
	$(PY) -m bot db upgrade
	@scripts/run.sh

test: $(STAMP) $(NODE_STAMP) lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot dialogs domain storage scheduling web

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot dialogs domain storage scheduling web

pytest: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest -q

bench: $(STAMP) $(NODE_STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
