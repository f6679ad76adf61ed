# hukou-recon — two entry points: `make demo` and `make test`.
# Needs only python3 with pip; uv is installed on first use and pins everything via uv.lock.

SHELL := /bin/bash
PY ?= python3
UV := $(PY) -m uv
DATA ?= data
DEMO_INPUT ?= $(DATA)/demo-input
SCALE ?= 1
SEED ?= 0

export UV_PYTHON_DOWNLOADS := never
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: setup demo test check lint typecheck unit fast bench bench-fieldwork bench-scale bench-units bench-review format clean

.venv/.synced: pyproject.toml uv.lock
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv \
		|| $(PY) -m pip install --quiet --user uv || $(PY) -m pip install --quiet --break-system-packages uv
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

## Generate a city (scale $(SCALE)) and run the nightly flow on it; prints the community summary.
demo: setup
	@if [ ! -d "$(DEMO_INPUT)/rolls" ]; then $(UV) run hukou generate $(DEMO_INPUT) --scale $(SCALE) --seed $(SEED); fi
	HUKOU_QUIET_SECONDS=0 $(UV) run hukou run --register $(DEMO_INPUT)/register --rolls $(DEMO_INPUT)/rolls --data $(DATA)

## The whole suite: lint, types, unit, flow, end-to-end and browser tests.
test: setup lint typecheck unit

## Lint, types and the fast tests (no Prefect server, no browser, no slow property tests): under a minute.
check: setup lint typecheck fast

fast: setup
	$(UV) run pytest -m "not slow and not browser" -q

lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

typecheck: setup
	$(UV) run mypy

unit: setup
	$(UV) run pytest

## Accuracy and speed against ground truth and Splink; record the output in benchmarks/RESULTS.md.
bench: setup
	$(UV) sync --frozen --group bench
	$(UV) run --group bench python -m benchmarks.run
	$(UV) run --group bench python -m benchmarks.fieldwork

## Time and peak memory per stage at scales 1, 5 and 10, and a night after a night at scale 5 (chart: benchmarks/scaling.svg).
bench-scale: setup
	$(UV) run python -m benchmarks.scaling $(if $(SCALES),--scales $(SCALES))

## Each work unit's time and memory at two scales, and a 65 M province projected on 8, 32 and 128 workers.
bench-units: setup
	$(UV) run python -m benchmarks.units $(if $(SCALES),--scales $(SCALES))

## The review app at a city's load: 20 operators deciding, a nightly run publishing meanwhile; every decision checked.
bench-review: setup
	$(UV) run python -m benchmarks.review_load $(if $(OPERATORS),--operators $(OPERATORS))

## Desk actions that settle one community's lone records: worksheets and household decisions against one click each.
bench-fieldwork: setup
	$(UV) run python -m benchmarks.fieldwork

format: setup
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
