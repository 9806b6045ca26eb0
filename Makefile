# Tapaamo: `make run` to chat with the bot in the Teams emulator, `make test` to check everything.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test lint typecheck pytest bench manifest clean i18n chromium

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

test: $(STAMP) $(NODE_STAMP) chromium lint typecheck pytest

# Headless Chromium for the accessibility and screenshot tests (Debian's package; needs root).
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		else echo "chromium is not installed: the browser tests will be skipped (apt-get install chromium)"; fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot dialogs domain storage scheduling web manifest

typecheck: $(STAMP)
	$(VENV)/bin/mypy bot dialogs domain storage scheduling web manifest

pytest: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest -q

bench: $(STAMP) $(NODE_STAMP)
	$(PY) bench/run_all.py

manifest: $(STAMP) $(NODE_STAMP)
	$(PY) -m bot manifest build --out var/tapaamo-teams-app.zip
	node manifest/validate.mjs var/tapaamo-teams-app.zip

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
