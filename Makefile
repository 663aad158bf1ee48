# Every target creates .venv on first use; a fresh machine needs only python3, pip and gcc.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# everything the whole test suite exercises: the durable_rules backend (built from
# source with gcc), Parquet and Dask
ALL_EXTRAS := dev,durable,parquet,dask

.PHONY: install install-all demo test lint typecheck pytest bench clean fmt

$(VENV)/.base: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=77" wheel
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.all: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e ".[$(ALL_EXTRAS)]"
	touch $@

install: $(VENV)/.base
install-all: $(VENV)/.all

demo: install
	$(BIN)/followup evaluate examples/final-round-finance.yaml

lint: install-all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-all
	$(BIN)/mypy engine/

pytest: install-all
	$(BIN)/pytest -q

test: lint typecheck pytest
	$(BIN)/followup test
	$(BIN)/followup check

bench: install-all
	$(BIN)/python benchmarks/bench_batch.py

fmt: install-all
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info
