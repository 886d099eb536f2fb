# The two commands: `make demo` and `make test`. Both run the idempotent `make setup` first.
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://$(shell id -un)@/gis_service_test?host=/var/run/postgresql

.PHONY: setup setup-postgis setup-bench demo test bench bench-api lint clean

setup:
	@bash scripts/setup.sh

setup-postgis:
	@bash scripts/setup.sh --postgis

# pygeoapi (the API benchmark's peer) lives in its own venv so its dependencies never meet ours.
setup-bench: setup
	@bash scripts/setup_bench.sh

demo: setup
	$(BIN)/gis-service demo

test: setup-postgis
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: setup-postgis setup-bench
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_coverage.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_placement.py --out docs/benchmarks.md
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_ledger.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_api.py --out docs/benchmarks.md

bench-api: setup-bench
	$(BIN)/python scripts/bench_api.py --out docs/benchmarks.md

lint: setup
	$(BIN)/ruff check gis_service tests scripts
	$(BIN)/mypy gis_service

clean:
	rm -rf $(VENV) .venv-bench data/*.sqlite
