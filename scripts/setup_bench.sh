#!/usr/bin/env bash
# Idempotent set-up of the benchmark-only tools for scripts/bench_api.py:
#   - Debian packages wrk (load generator) and libsqlite3-mod-spatialite (pygeoapi's GeoPackage provider loads it);
#   - a separate venv (default .venv-bench, or $BENCH_VENV) with pygeoapi and gunicorn, so that pygeoapi's
#     dependencies never mix with the project's .venv.
# pygeoapi 0.22 and newer require Python >= 3.12. Debian 12's /usr/bin/python3 is 3.11, and the other interpreters
# found here (pyenv builds) cannot load SQLite extensions; with those, pysqlite3-binary is installed and a .pth hook
# makes `import sqlite3` return it (pygeoapi's provider does a plain `import sqlite3` and loads mod_spatialite).
# When everything is in place this finishes in about a second; $BENCH_PYTHON picks the interpreter explicitly.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"  # before the cd: $0 may be relative
cd "$(dirname "$0")/.."

PYGEOAPI_PIN="pygeoapi==0.24.0"
GUNICORN_PIN="gunicorn==27.0.1"
PYSQLITE_PIN="pysqlite3-binary==0.5.4.post2"
VENV="${BENCH_VENV:-.venv-bench}"
STAMP="$VENV/.bench-stamp"


# Prints "yes" when $1 is Python >= 3.12, "native" instead when its sqlite3 can also load extensions.
probe_python() {
  "$1" - <<'EOF' 2>/dev/null || true
import sqlite3, sys
if sys.version_info >= (3, 12):
    print("native" if hasattr(sqlite3.Connection, "enable_load_extension") else "yes")
EOF
}

# The first interpreter >= 3.12, preferring one whose own sqlite3 loads extensions (Debian 13's /usr/bin/python3).
choose_python() {
  local candidates=() fallback="" py kind
  [[ -n "${BENCH_PYTHON:-}" ]] && candidates+=("$BENCH_PYTHON")
  candidates+=(/usr/bin/python3 /usr/bin/python3.1[2-9] /usr/local/bin/python3.1[2-9])
  candidates+=("${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3)
  for py in "${candidates[@]}"; do
    [[ -x "$py" ]] || continue
    kind=$(probe_python "$py")
    [[ "$kind" == native ]] && { echo "$py"; return 0; }
    [[ "$kind" == yes && -z "$fallback" ]] && fallback="$py"
  done
  [[ -n "$fallback" ]] && { echo "$fallback"; return 0; }
  return 1
}

# True when the bench venv serves: pinned pygeoapi, gunicorn, and a sqlite3 that loads mod_spatialite.
bench_venv_ok() {
  [[ -x "$VENV/bin/python" && -x "$VENV/bin/gunicorn" && -f "$STAMP" ]] || return 1
  [[ "$(cat "$STAMP")" == "$PYGEOAPI_PIN $GUNICORN_PIN" ]] || return 1
  "$VENV/bin/python" - <<'EOF' >/dev/null 2>&1
import sqlite3
from importlib.metadata import version
assert version("pygeoapi") == "0.24.0"
conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.execute("SELECT load_extension('mod_spatialite')")
EOF
}

apt_install wrk libsqlite3-mod-spatialite

if bench_venv_ok; then
  echo "setup_bench: ok ($VENV: $PYGEOAPI_PIN, $GUNICORN_PIN)"
  exit 0
fi

if ! PY=$(choose_python); then
  # Debian 13: /usr/bin/python3 is 3.13 but `python3 -m venv` may need python3-venv.
  apt_install python3-venv
  PY=$(choose_python) || { echo "setup_bench: no Python >= 3.12 found (pygeoapi 0.24 needs it); set BENCH_PYTHON" >&2; exit 1; }
fi
if ! "$PY" -m venv --help >/dev/null 2>&1; then apt_install python3-venv; fi

echo "setup_bench: creating $VENV with $("$PY" --version) ($PY)"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$PYGEOAPI_PIN" "$GUNICORN_PIN"

if [[ "$(probe_python "$VENV/bin/python")" != native ]]; then
  echo "setup_bench: $PY cannot load SQLite extensions; routing sqlite3 to pysqlite3-binary in $VENV"
  "$VENV/bin/python" -m pip install -q "$PYSQLITE_PIN"
  SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cat > "$SITE/_bench_sqlite3.py" <<'EOF'
"""Make `import sqlite3` return pysqlite3 (which can load mod_spatialite) in the benchmark venv only."""
import sys

import pysqlite3
import pysqlite3.dbapi2

sys.modules["sqlite3"] = pysqlite3
sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2
EOF
  # .pth lines that start with "import" run at interpreter start-up, before any user code imports sqlite3.
  echo "import _bench_sqlite3" > "$SITE/_bench_sqlite3.pth"
fi

echo "$PYGEOAPI_PIN $GUNICORN_PIN" > "$STAMP"
bench_venv_ok || { echo "setup_bench: $VENV was built but does not pass its check" >&2; exit 1; }
echo "setup_bench: ok ($VENV: $PYGEOAPI_PIN, $GUNICORN_PIN)"
