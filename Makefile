# The README's two commands: `make run` (start the app on the demo data) and `make test`.
# Both create the virtual environment and install what they need on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench demo install install-test system-deps fonts clean npm

$(VENV)/.app: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.app
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Leaflet.draw, from the npm registry as package-lock.json pins it (Debian's npm if missing).
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm; \
	fi
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

npm: node_modules/.package-lock.json

install: $(VENV)/.app
install-test: $(VENV)/.test

data/demo.gpkg: $(VENV)/.app data/build_demo.py data/profiles/jiuquan/profile.toml data/profiles/jiuquan/boundaries.geojson layers/catalogue.py store/gpkg.py
	$(BIN)/village-atlas build-demo

demo: data/demo.gpkg

run: fonts npm demo
	$(BIN)/streamlit run app.py

# A CJK font for Chinese text in exported maps (Debian's fonts-wqy-microhei).
fonts:
	@if ! fc-list 2>/dev/null | grep -qi wqy; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fontconfig fonts-wqy-microhei; \
	fi

# Debian's chromium for the browser tests, PostgreSQL with PostGIS for the store tests
# (the tests start a throwaway cluster of their own), and the CJK font.
system-deps: fonts
	@if ! command -v chromium >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi
	@if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql postgresql-15-postgis-3; \
	fi

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-deps npm $(VENV)/.test demo lint
	$(BIN)/python -m pytest

bench: system-deps npm $(VENV)/.test demo
	$(BIN)/python benchmarks/coverage_engine.py
	$(BIN)/python benchmarks/map.py
	$(BIN)/python benchmarks/exports.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/reruns.py
	mkdir -p /tmp/va-10k && $(BIN)/village-atlas build-demo --villages 10000 --out /tmp/va-10k
	VILLAGE_ATLAS_DATA=/tmp/va-10k $(BIN)/python benchmarks/reruns.py

clean:
	rm -rf $(VENV) data/demo.gpkg* data/demo-backups data/demo.rasters data/population.tif static/vendor
