#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12/13 machine (root) or an existing one.
#   scripts/setup.sh            Debian packages for SpatiaLite and GDAL, the .venv with the project (editable, dev extras)
#   scripts/setup.sh --postgis  also PostgreSQL + PostGIS, a running cluster and a fresh test database
# When everything is in place it finishes in seconds: apt-get runs only for missing packages,
# pip only when pyproject.toml changed since the last install.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"  # before the cd: $0 may be relative
cd "$(dirname "$0")/.."

WITH_POSTGIS=0
[[ "${1:-}" == "--postgis" ]] && WITH_POSTGIS=1
TEST_DB="${GIS_TEST_DB_NAME:-gis_service_test}"


# Debian's own interpreter: its sqlite3 module can load mod_spatialite (pyenv builds often cannot).
# fonts-wqy-microhei: a Chinese font, so that headless Chromium (report screenshots) and matplotlib (notebooks) draw
# Chinese text instead of empty boxes on a server without desktop fonts.
apt_install python3 python3-venv python3-dev libsqlite3-mod-spatialite gdal-bin chromium fonts-wqy-microhei
PY=/usr/bin/python3

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
  rm -rf .venv
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

STAMP=.venv/.setup-stamp
HASH=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $STAMP || "$(cat $STAMP)" != "$HASH" ]]; then
  echo "setup: installing the project into .venv (editable, dev extras)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$HASH" > "$STAMP"
fi

if [[ $WITH_POSTGIS -eq 1 ]]; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  PG_MAJOR=$(ls /etc/postgresql | sort -V | tail -n 1)
  apt_install "postgresql-${PG_MAJOR}-postgis-3" postgresql-client
  if ! pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1==v && $2=="main" {print $4}' | grep -q online; then
    echo "setup: starting PostgreSQL $PG_MAJOR"
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h /var/run/postgresql && break; sleep 1; done
  ME=$(id -un)
  if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$ME'\"" | grep -q 1; then
    su postgres -c "createuser --superuser $ME"
  fi
  psql -q -h /var/run/postgresql -d postgres -c "DROP DATABASE IF EXISTS $TEST_DB WITH (FORCE)" >/dev/null
  psql -q -h /var/run/postgresql -d postgres -c "CREATE DATABASE $TEST_DB" >/dev/null
  psql -q -h /var/run/postgresql -d "$TEST_DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  echo "setup: PostGIS test database '$TEST_DB' ready (PostgreSQL $PG_MAJOR)"
fi
echo "setup: ok"
