# Every target makes its own virtualenv in .venv and installs what it needs into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit demo run emulator bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## test: lint, format check, mypy --strict and the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

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
	$(BIN)/python -m bench.bench_replicas
	$(BIN)/python -m bench.bench_search
	$(BIN)/python -m bench.bench_catalog
	$(BIN)/python -m bench.bench_credentials
	$(BIN)/python -m bench.bench_access

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
