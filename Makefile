# Two commands: `make demo` opens the console on the bundled demo case; `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: demo test check lint typecheck bench fuzz soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/ir-console demo

test: $(STAMP_TEST)
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check discovery runbooks ir_console tests benchmarks
	$(BIN)/ruff format --check discovery runbooks ir_console

typecheck: $(STAMP_TEST)
	$(BIN)/mypy discovery runbooks

check: lint typecheck test

bench: $(STAMP_TEST)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

fuzz: $(STAMP_TEST)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m slow -k fuzz $(PYTEST_ARGS)

soak: $(STAMP_TEST)
	$(BIN)/python -m pytest -m slow -k soak -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
