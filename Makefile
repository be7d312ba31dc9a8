# The project's one command surface: the same targets locally and in CI.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo
BRANDS ?= 1000
MONTHS ?= 12

.PHONY: setup demo test lint typecheck pytest bench system-deps docs guide-screenshots clean

VENDOR := src/windmaker/web/static/vendor

## The main job's packages only (what `make demo` needs); the tests' and benchmarks' tools,
## PySpark among them, come with the dev extra.
$(VENV)/.installed-main: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $@

$(STAMP): $(VENV)/.installed-main
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

## ECharts, htmx, axe-core and Swagger UI from the npm registry, served locally (no CDN).
## No package needs its install scripts (swagger-ui-dist's would only report usage).
$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent --ignore-scripts
	mkdir -p $(VENDOR)
	cp node_modules/echarts/dist/echarts.min.js node_modules/htmx.org/dist/htmx.min.js node_modules/axe-core/axe.min.js $(VENDOR)/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/favicon-32x32.png $(VENDOR)/
	touch $@

setup: $(STAMP) $(VENDOR)/.installed

## System packages the tests need (Java for PySpark, PostgreSQL, Chromium, CJK fonts).
system-deps:
	bash scripts/system-deps.sh

## Set everything up from a fresh clone, simulate a market, diagnose it and serve it on localhost.
demo: $(VENV)/.installed-main $(VENDOR)/.installed
	bash scripts/demo.sh $(DEMO) $(BRANDS) $(MONTHS)

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy

## The suite's temporary folders live in the checkout: pytest keeps only its three latest
## numbered folders under the shared /tmp/pytest-of-USER, so another pytest started meanwhile
## on the machine would delete the folders of this run's session fixtures.
pytest: setup
	bash scripts/test-services.sh $(BIN)/pytest -q --basetemp=$(CURDIR)/.pytest-tmp

## Sets up and passes the tests: lint, type check, the whole suite.
test: system-deps setup lint typecheck pytest

bench: setup
	$(BIN)/python -m benchmarks $(BENCH)

docs: setup
	$(BIN)/python -m windmaker.contract > docs/data-contract.md

## The user guide's pictures, taken by the browser journeys (needs `make system-deps`).
guide-screenshots: setup
	bash scripts/guide-screenshots.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
