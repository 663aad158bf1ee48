# Every target creates .venv on first use; a fresh machine needs only python3, pip and gcc.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# everything the whole test suite exercises: the durable_rules backend (built from
# source with gcc), Parquet and Dask
ALL_EXTRAS := dev,durable,parquet,dask
# the same project installed as users get it: the engine's hot modules compiled by
# mypyc (setup.py); .venv holds an editable, pure-Python install for development
COMPILED := .venv-compiled
SOURCES := pyproject.toml setup.py $(wildcard pkg/*.py engine/*.py engine/batch/*.py cli/*.py \
	policies/*/* schemas/*.json)

.PHONY: install install-all install-compiled demo test lint typecheck pytest test-compiled bench clean fmt

$(VENV)/.base: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=77" wheel
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.all: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e ".[$(ALL_EXTRAS)]"
	touch $@

$(COMPILED)/.installed: $(SOURCES)
	test -d $(COMPILED) || $(PY) -m venv $(COMPILED)
	$(COMPILED)/bin/pip install -q --upgrade pip "setuptools>=77" wheel
	# pip builds and reinstalls a local project on every install, so this also rebuilds it
	$(COMPILED)/bin/pip install -q ".[$(ALL_EXTRAS)]"
	touch $@

install: $(VENV)/.base
install-all: $(VENV)/.all
install-compiled: $(COMPILED)/.installed

demo: install
	$(BIN)/followup evaluate examples/final-round-finance.yaml

lint: install-all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-all
	$(BIN)/mypy engine/

pytest: install-all
	FOLLOWUP_EXPECT_BUILD=pure $(BIN)/pytest -q

# the whole suite again against the compiled build: both must behave the same
test-compiled: install-compiled
	FOLLOWUP_EXPECT_BUILD=compiled $(COMPILED)/bin/pytest -q -p no:cacheprovider
	$(COMPILED)/bin/followup test

test: lint typecheck pytest test-compiled
	$(BIN)/followup test
	$(BIN)/followup check

bench: install-compiled
	$(COMPILED)/bin/python benchmarks/bench_batch.py

fmt: install-all
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(COMPILED) build *.egg-info
