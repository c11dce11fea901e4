# FlexPipelines — the two commands a fresh machine needs:
#   make demo   build the demo site from bundled real data and run ingest → forecast → schedule → report
#   make test   lint + the whole test suite (creates .venv on first use)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home

.PHONY: venv demo test lint format bench ui clean constraints

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==0.13.9
	$(BIN)/uv pip install -q --python $(BIN)/python -c constraints.txt -e '.[dev,api,celery]'
	touch $(STAMP)

demo: venv
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/flexpipe demo --db var/demo.duckdb

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rn --include='*.py' -e '# fmt: skip' -e '# fmt: off' flex_pipelines assets_defs resources schedules tests bench || (echo 'hand layouts (# fmt: skip/off) are not allowed: let ruff format format' && false)

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv lint
	$(BIN)/python -m pytest -q tests

bench: venv
	$(BIN)/python -m bench.run

ui: venv
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/python -m flex_pipelines.ui

constraints:
	$(BIN)/uv pip freeze --python $(BIN)/python | grep -v -E '^(-e|flex-pipelines)' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
