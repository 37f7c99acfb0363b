# GEP — two commands: `make run` (install + serve the demo) and `make test` (install + every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install
VALIDATOR_VENV := .venv-validator
VALIDATOR_STAMP := $(VALIDATOR_VENV)/.stamp-install
MINTPY_VENV := bench/.venv-mintpy
MINTPY_STAMP := $(MINTPY_VENV)/.stamp-install
PG_URL_ADMIN ?= postgresql://postgres@127.0.0.1:5432/postgres
GEP_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/gep_test
HOST ?= 127.0.0.1
PORT ?= 8000
export GEP_TEST_DATABASE_URL

.PHONY: run test install system postgis sandbox nginx geoid chromium ui validator mintpy lint typecheck importlinter pytest pytest-core pytest-ui bench-catalog bench-gateway bench-tiles bench-ui clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## the Geobrowser (/ui/): npm installs the locked packages, build.mjs bundles the app into
## src/gep/web/dist (again only when a source or the lock file changed)
WEB := src/gep/web
UI_STAMP := $(WEB)/dist/.stamp-build
$(UI_STAMP): $(WEB)/package-lock.json $(WEB)/build.mjs $(shell find $(WEB)/src -type f 2>/dev/null)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
	touch $(UI_STAMP)

ui: $(UI_STAMP)

## Debian's chromium: the browser the Geobrowser's tests drive through Playwright
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)); }

## the platform on its embedded defaults (SQLite in ./.gep), with the sample catalogue
run: install geoid ui
	@$(MAKE) -s sandbox || echo "no bubblewrap (needs root for apt-get): deployed packages will be refused unless Docker or Podman answer"
	$(BIN)/gep db upgrade
	$(BIN)/gep demo seed
	$(BIN)/gep users demo-admin
	@echo "GEP on http://$(HOST):$(PORT)/  (the map: /ui/, STAC API: /stac, OpenSearch: /opensearch, OpenAPI: /api.html)"
	$(BIN)/gep serve --host $(HOST) --port $(PORT)

## bubblewrap: where no container engine runs, deployed packages' tools run in its sandbox
sandbox:
	@command -v bwrap >/dev/null || { echo "installing bubblewrap"; \
	  (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null)); }

## nginx: the peer bench/gateway.py serves the same file with (run by the bench, never as a service)
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { echo "installing nginx-light"; \
	  (apt-get install -y -qq nginx-light >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null)); }

## EGM96 geoid grid (Debian proj-data): DEM geoid heights -> ellipsoidal heights (gep.io.dem)
geoid:
	@test -f /usr/share/proj/egm96_15.gtx || { echo "installing proj-data"; \
	  (apt-get install -y -qq proj-data >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq proj-data >/dev/null)); }

## PostgreSQL + PostGIS for the tests of the scale backend (Debian packages, installed when missing)
postgis:
	@pgver=$$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1); \
	if [ -z "$$pgver" ]; then echo "no PostgreSQL cluster on this machine"; exit 1; fi; \
	if [ ! -f /usr/share/postgresql/$$pgver/extension/postgis.control ]; then \
	  echo "installing postgresql-$$pgver-postgis-3"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-$$pgver-postgis-3 >/dev/null; \
	fi; \
	pg_isready -q -h 127.0.0.1 || pg_ctlcluster --skip-systemctl-redirect $$pgver main start
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
	@psql "$(PG_URL_ADMIN)" -tAc "SELECT 1 FROM pg_database WHERE datname='gep_test'" | grep -q 1 || \
	  psql "$(PG_URL_ADMIN)" -qc "CREATE DATABASE gep_test"
	@psql "postgresql://postgres@127.0.0.1:5432/gep_test" -qc "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null

## stac-api-validator lives in its own venv: its pins must not move GEP's dependencies
$(VALIDATOR_STAMP):
	$(PYTHON) -m venv $(VALIDATOR_VENV)
	$(VALIDATOR_VENV)/bin/pip install -q --upgrade pip
	$(VALIDATOR_VENV)/bin/pip install -q 'stac-api-validator==0.6.8'
	touch $(VALIDATOR_STAMP)

validator: $(VALIDATOR_STAMP)

## MintPy (the SBAS peer the tests compare velocities with) in its own venv (~1 min, once)
$(MINTPY_STAMP):
	$(PYTHON) -m venv $(MINTPY_VENV)
	$(MINTPY_VENV)/bin/pip install -q --upgrade pip
	$(MINTPY_VENV)/bin/pip install -q 'mintpy==1.6.4'
	touch $(MINTPY_STAMP)

mintpy: $(MINTPY_STAMP)

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

importlinter: install
	$(BIN)/lint-imports

## the Debian packages the tests need, one apt-get at a time (dpkg has one lock)
system:
	@$(MAKE) --no-print-directory -j1 postgis sandbox nginx geoid chromium

## every test: the Geobrowser's and the notebooks' (a browser, notebook kernels and the demo server
## they share, mostly waiting) beside the rest, in two processes
pytest: pytest-core pytest-ui

## the second process: the Geobrowser's and notebooks' tests on one seeded demo server, and the
## tests of clients of live servers (CLI, SDK, apps, service validation), which mostly wait on
## servers: beside pytest-core they use the second core that process leaves idle
LIVE_TESTS := tests/ui tests/notebooks tests/apps tests/cli tests/client tests/processes/test_validation.py

pytest-core: install system validator mintpy
	$(BIN)/pytest -q --durations=25 $(addprefix --ignore=,$(LIVE_TESTS))

pytest-ui: install system ui
	$(BIN)/pytest -q --durations=10 -p no:cacheprovider --basetemp=$(or $(TMPDIR),/tmp)/gep-pytest-ui $(LIVE_TESTS)

## the checks and the tests side by side (-j): the three virtual environments install at once,
## mypy and ruff run while pytest starts its first servers, and the Geobrowser's tests run beside
## the others (each target's output is printed whole when it ends)
test:
	@$(MAKE) --no-print-directory -j5 --output-sync=target lint importlinter typecheck pytest-core pytest-ui

bench-catalog: install postgis
	$(BIN)/python bench/catalog.py $(or $(N),100000)

## the data gateway against nginx and s3fs (1 GB COG in bench/.data, made once; SIZE_MB=… for less)
bench-gateway: install nginx
	$(BIN)/python bench/gateway.py --size-mb $(or $(SIZE_MB),1024)

## map tiles against TiTiler (titiler.application from PyPI in its own venv), one 10 000² COG
TITILER_VENV := bench/.venv-titiler
$(TITILER_VENV)/.stamp-install:
	$(PYTHON) -m venv $(TITILER_VENV)
	$(TITILER_VENV)/bin/pip install -q --upgrade pip
	$(TITILER_VENV)/bin/pip install -q 'titiler.application==2.4.0' uvicorn
	touch $@

bench-tiles: install $(TITILER_VENV)/.stamp-install
	$(BIN)/python bench/tiles.py --tiles $(or $(TILES),200)

## the Geobrowser's time to interactive and its panning with 10 000 footprints, against a peer
bench-ui: install ui chromium
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(WEB)/dist $(WEB)/node_modules $(VENV) $(VALIDATOR_VENV) .gep .pytest_cache .mypy_cache .ruff_cache
