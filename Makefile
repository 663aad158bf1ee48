# Every target creates .venv on first use; a fresh machine needs only python3 and pip.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev

.PHONY: install demo test lint fmt typecheck pytest bench clean

$(BIN)/followup: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools>=77" wheel
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $(BIN)/followup

install: $(BIN)/followup

demo: install
	$(BIN)/followup evaluate examples/final-round-finance.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy engine/

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info
