# usagebill — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PYTHONUNBUFFERED := 1
# Absolute paths: dbt views read raw Parquet by path, and every reader must resolve it alike.
export USAGEBILL_RAW_DIR ?= $(CURDIR)/warehouse/raw
export USAGEBILL_WAREHOUSE ?= $(CURDIR)/warehouse/usagebill.duckdb

.PHONY: help install install-dev demo test dev lint format docs bench clean spark-parity

help:
	@echo "make demo   - install, generate the demo dataset, build every asset, print the summary"
	@echo "make test   - install what the tests need and run the whole suite"
	@echo "make dev    - Dagster UI on http://127.0.0.1:3000 with the whole asset graph"
	@echo "make lint   - ruff and sqlfluff"
	@echo "make docs   - dbt docs for analysts (target/index.html, served on 127.0.0.1:8081)"
	@echo "make bench  - benchmarks (ratios against baselines measured in the same run)"
	@echo "make spark-parity - build the tiny dataset on DuckDB and Spark, compare every relation"

$(UV):
	@echo "==> Installing uv $(UV_VERSION) into $(TOOLS)"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) 2> $(TOOLS)/pip-install.log || { cat $(TOOLS)/pip-install.log; exit 1; }

# Installs exactly what uv.lock pins (runtime + dev group). Re-running is a no-op.
install: $(UV)
	@echo "==> Installing the locked dependencies into $(VENV) (uv sync; a no-op when up to date)"
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --no-dev $(if $(filter spark,$(USAGEBILL_ENGINE)),--extra spark)
	@mkdir -p $(DAGSTER_HOME) && (test -s $(DAGSTER_HOME)/dagster.yaml || printf "telemetry:\n  enabled: false\n" > $(DAGSTER_HOME)/dagster.yaml)

install-dev: $(UV)
	@echo "==> Installing the locked dependencies and the test tools into $(VENV) (uv sync)"
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --extra spark
	@mkdir -p $(DAGSTER_HOME) && (test -s $(DAGSTER_HOME)/dagster.yaml || printf "telemetry:\n  enabled: false\n" > $(DAGSTER_HOME)/dagster.yaml)

# SIZE=tiny|small (default small): the demo dataset (USAGEBILL_ENGINE=spark make demo SIZE=tiny: docs/spark.md).
demo: install
	$(BIN)/python -m cli.demo $(if $(SIZE),--size $(SIZE))

test: install-dev
	bash scripts/ensure-system-deps.sh
	$(BIN)/pytest -q -p no:cacheprovider

dev: install
	$(BIN)/python -m cli.demo --prepare-only
	$(BIN)/dagster dev -m dagster_project.definitions --host 127.0.0.1 --port 3000

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p .lint/raw
	USAGEBILL_WAREHOUSE=$(CURDIR)/.lint/lint.duckdb USAGEBILL_RAW_DIR=$(CURDIR)/.lint/raw DBT_TARGET_PATH=$(CURDIR)/.lint/target \
		$(BIN)/sqlfluff lint dbt_project

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	@mkdir -p .lint/raw
	USAGEBILL_WAREHOUSE=$(CURDIR)/.lint/lint.duckdb USAGEBILL_RAW_DIR=$(CURDIR)/.lint/raw DBT_TARGET_PATH=$(CURDIR)/.lint/target \
		$(BIN)/sqlfluff fix dbt_project

docs: install
	@mkdir -p $(dir $(USAGEBILL_WAREHOUSE)) $(USAGEBILL_RAW_DIR)
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir . && ../$(BIN)/dbt docs serve --profiles-dir . --host 127.0.0.1 --port 8081

bench: install-dev
	$(BIN)/python -m bench.run_all

# The dbt project on DuckDB and on Spark (two incremental windows), every relation compared row
# for row; writes warehouse/spark_parity.json, fails on any difference (docs/spark.md).
spark-parity: install-dev
	bash scripts/ensure-system-deps.sh
	$(BIN)/python -m cli.spark_parity --size $(or $(SIZE),tiny)

clean:
	rm -rf warehouse data reports .dagster_home dbt_project/target dbt_project/logs
