# The README's two commands: `make demo` and `make test`. Each creates (or reuses) .venv and installs
# what it needs, so they work on a fresh machine with nothing but Python >= 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/followersync demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The fast tests first (`unit`: no socket, no process, no database server; seconds), then the rest
# (`integration`) on as many workers as the machine has cores (pytest-xdist). tests/conftest.py gives
# each test its marker. `--dist loadgroup` keeps the tests of an `xdist_group` (the wheel's, built once
# per module) on one worker. Exit status 5 (no test selected, say by a PYTEST_ARGS naming only
# integration tests) is no failure of either step.
pytest: $(STAMP)
	$(BIN)/pytest -m unit $(PYTEST_ARGS) || test $$? -eq 5
	$(BIN)/pytest -m integration -n auto --dist loadgroup $(PYTEST_ARGS) || test $$? -eq 5

# The benchmark's peer anchor, dlt, lives in a venv of its own: it is never a dependency of followersync.
# Made (or retried) by each `make bench` until dlt is installed; if it cannot be (no network), the bench
# still runs and its dlt rows read "not measured".
DLT_VENV  ?= .venv-bench-dlt
DLT_STAMP := $(DLT_VENV)/.installed

bench: $(STAMP)
	@test -f $(DLT_STAMP) || { $(PYTHON) -m venv $(DLT_VENV) \
		&& $(DLT_VENV)/bin/python -m pip install --quiet 'dlt[postgres]==1.31.*' \
		&& touch $(DLT_STAMP); } \
		|| echo "make bench: dlt could not be installed into $(DLT_VENV); the bench runs without it" >&2
	$(BIN)/python bench/run.py --dlt-python $(DLT_VENV)/bin/python --record bench/RESULTS.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DLT_VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
