# The two commands: `make demo` and `make test`. Both run the idempotent `make setup` first.
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://$(shell id -un)@/gis_service_test?host=/var/run/postgresql

.PHONY: setup setup-postgis setup-bench demo test bench bench-api bench-province bench-load bench-towns lint clean

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
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=15

bench: setup-postgis setup-bench
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_coverage.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_placement.py --out docs/benchmarks.md
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_ledger.py --out docs/benchmarks.md
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_conformance.py --out docs/benchmarks.md
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_towns.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_api.py --out docs/benchmarks.md
	$(BIN)/python scripts/bench_province.py --out docs/benchmarks.md --check 100000000
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_load.py --out docs/benchmarks.md

bench-api: setup-bench
	$(BIN)/python scripts/bench_api.py --out docs/benchmarks.md

# 1M and 10M settlements on a 2-worker LocalCluster, projected to 100M and then measured at 100M (about 5 min).
bench-province: setup
	$(BIN)/python scripts/bench_province.py --out docs/benchmarks.md --check 100000000

# 200 clients on `gis-service serve --workers 2` over PostGIS: three 60 s mixed windows, each request alone, and
# two peer servers (cache off, MALLOC_ARENA_MAX=2); about 10 minutes (wrk comes with setup-bench).
bench-load: setup-postgis setup-bench
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_load.py --out docs/benchmarks.md

# 300 towns in one PostGIS database against one town and the flat schema (about 2 min).
bench-towns: setup-postgis
	GIS_TEST_POSTGRES_URL='$(PG_TEST_URL)' $(BIN)/python scripts/bench_towns.py --out docs/benchmarks.md

lint: setup
	$(BIN)/ruff check gis_service tests scripts
	$(BIN)/mypy gis_service

clean:
	rm -rf $(VENV) .venv-bench data/*.sqlite
