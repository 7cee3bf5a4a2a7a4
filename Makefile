# Every target makes its own virtualenv in .venv and installs what it needs into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Material's banner about MkDocs 2.0 says nothing about this build.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

.PHONY: test test-fast test-dates lint typecheck suite docs docs-check demo run emulator bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## test: lint, format check, import contracts, mypy --strict, the docs built strictly, the whole test suite, then test-dates
test: lint typecheck docs-check suite test-dates

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

suite: $(STAMP)
	$(BIN)/pytest

## test-fast: the unit tests alone, in under a minute, with no redis-server or PostgreSQL started
test-fast: $(STAMP)
	$(BIN)/pytest tests/unit -m "not integration"

## docs: the documentation in docs/ as a site with navigation and search, in site/
docs: $(STAMP)
	$(MKDOCS) build --strict --site-dir site

## docs-check: the same build into a throwaway folder; a broken link, anchor or page fails it
docs-check: $(STAMP)
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && $(MKDOCS) build --strict --site-dir "$$out"

## test-dates: the tests marked `dates`, under libfaketime, at eleven dates and zones
test-dates: $(STAMP)
	@VENV=$(VENV) tests/at_dates.sh

## demo: the bot in this terminal, on the emulator and a fake Slack; no accounts needed
demo: $(STAMP)
	$(BIN)/python -m bot demo

## run: serve Slack for real (SLACK_* and ALIBABA_CLOUD_* from the environment)
run: $(STAMP)
	$(BIN)/python -m bot serve

## emulator: the local CAMS endpoint on 127.0.0.1:9000
emulator: $(STAMP)
	$(BIN)/python -m bot emulator

## bench: the benchmarks in bench/, printed as tables
bench: $(STAMP)
	$(BIN)/python -m bench.bench_client
	$(BIN)/python -m bench.bench_limiter
	$(BIN)/python -m bench.bench_slack
	$(BIN)/python -m bench.bench_surfaces
	$(BIN)/python -m bench.bench_replicas
	$(BIN)/python -m bench.bench_search
	$(BIN)/python -m bench.bench_catalog
	$(BIN)/python -m bench.bench_credentials
	$(BIN)/python -m bench.bench_access
	$(BIN)/python -m bench.bench_watch
	$(BIN)/python -m bench.bench_state
	$(BIN)/python -m bench.bench_footprint

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
