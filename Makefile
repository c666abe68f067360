# Two commands: `make demo` opens the console on the bundled demo case; `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_NATIVE := $(VENV)/.built-native
DISCOVERY_SOURCES := $(shell find discovery -name '*.py')
NATIVE_BUILD_DEPS := "mypy==2.4.1" types-PyYAML "setuptools>=68"  # = pyproject build-system.requires
PYTEST_ARGS ?=

.PHONY: demo test test-fast check lint typecheck bench fuzz soak clean native

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install itself builds nothing (IR_CONSOLE_PURE=1); the native build below does.
$(STAMP_RUN): pyproject.toml setup.py | $(BIN)/python
	IR_CONSOLE_PURE=1 $(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml setup.py | $(BIN)/python
	IR_CONSOLE_PURE=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

# The hot discovery modules compiled in place with mypyc (discovery/compiled.py lists them).
# Rebuilt when any discovery source changes; if it cannot be built, the package runs as pure
# Python (slower, same results) and says so.
$(STAMP_NATIVE): $(DISCOVERY_SOURCES) setup.py | $(STAMP_RUN)
	@echo "make: compiling the hot modules with mypyc (once, and after a change: 1-2 minutes on 2 cores)..." >&2
	$(BIN)/python -m pip install --quiet $(NATIVE_BUILD_DEPS)
	find discovery -name '*.so' -delete
	$(BIN)/python setup.py --quiet build_ext --inplace --parallel 2 \
		&& echo "make: compiled modules ready" >&2 \
		|| echo "warning: compiled build failed: running as pure Python" >&2
	touch $@

native: $(STAMP_NATIVE)

demo: $(STAMP_RUN) $(STAMP_NATIVE)
	$(BIN)/ir-console demo

test: $(STAMP_TEST) $(STAMP_NATIVE)
	$(BIN)/python -m pytest -n 2 -m "not fuzz and not soak" $(PYTEST_ARGS)

# The fast subset: no test that starts a process or a server (under two minutes).
test-fast: $(STAMP_TEST) $(STAMP_NATIVE)
	$(BIN)/python -m pytest -n 2 -m "not integration and not fuzz and not soak" $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check discovery runbooks ir_console tests benchmarks demo setup.py
	$(BIN)/ruff format --check discovery runbooks ir_console tests benchmarks demo setup.py
	$(BIN)/lint-imports

typecheck: $(STAMP_TEST)
	$(BIN)/mypy discovery runbooks ir_console

check: lint typecheck test

# bench_live.py replays a capture with tcpreplay: installed here when missing (as root, apt-get)
bench: $(STAMP_TEST) $(STAMP_NATIVE)
	@command -v tcpreplay >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null; }; } \
		|| echo "warning: tcpreplay is missing: bench_live.py will say so" >&2; }
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

fuzz: $(STAMP_TEST)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m fuzz $(PYTEST_ARGS)

soak: $(STAMP_TEST)
	$(BIN)/python -m pytest -m soak -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find discovery -name '*.so' -delete
