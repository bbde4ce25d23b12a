# The README's two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test pytest lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The demo's .venv runs every command the README shows, `eval --plots` included (matplotlib, pinned).
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[plots]'
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[bench]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/python -m labelport.demo

lint: $(VENV)/.test
	$(BIN)/ruff check --quiet src tests bench
	$(BIN)/ruff format --check --quiet src tests bench
	$(BIN)/mypy --no-error-summary

# The reference under docs/, built strictly: a broken link or anchor fails.
docs: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The checks and the docs build run beside the tests (the suite mostly keeps one core busy, and a fresh
# clone's mypy has no cache); they print only what is wrong, and any of them failing fails `make test`.
test: $(VENV)/.test
	$(MAKE) --no-print-directory -j3 lint docs pytest

pytest: $(VENV)/.test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
