#!/usr/bin/env bash
# Run the test suite with .venv's pytest. Uses PostgreSQL when one answers on
# 127.0.0.1:5432 (pytest-django creates and drops test_videoplanet), else SQLite.
# DATABASE_URL, if set, is used as is. REQUIRE_POSTGRES=1 fails without PostgreSQL.
# Extra arguments go to pytest:  scripts/test.sh -k webhook -x
# Coverage (of the test process and every process it starts) is measured and reported
# at the end; NO_COVERAGE=1 skips it, for a quick run of one file.
# TEST_PROCESSES=N (or auto: one per core) spreads the tests over N processes with
# pytest-xdist (`make test` sets auto); unset or 1, everything runs in this process.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
[[ -x "$PY" ]] || { echo "test: .venv is missing; run scripts/bootstrap.sh (or make test)" >&2; exit 1; }

pg_answers() {
    "$PY" -c 'import socket; socket.create_connection(("127.0.0.1", 5432), timeout=2).close()' 2>/dev/null
}

if [[ -n "${DATABASE_URL:-}" ]]; then
    label="Test database: from DATABASE_URL (${DATABASE_URL%%:*}, ${DATABASE_URL##*@})"
    is_pg=$([[ "$DATABASE_URL" == postgres* ]] && echo 1 || echo 0)
elif pg_answers; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/videoplanet"
    label="Test database: PostgreSQL (127.0.0.1:5432)"
    is_pg=1
else
    # Explicit, so a DATABASE_URL in .env cannot take over.
    export DATABASE_URL="sqlite:///$PWD/db.sqlite3"
    label="Test database: SQLite (no PostgreSQL on 127.0.0.1:5432)"
    is_pg=0
fi
if [[ "${REQUIRE_POSTGRES:-0}" == 1 && "$is_pg" != 1 ]]; then
    echo "test: ERROR: REQUIRE_POSTGRES=1 but no PostgreSQL answers on 127.0.0.1:5432 (and DATABASE_URL is not a postgres URL)." >&2
    exit 1
fi

echo "$label"
if [[ -n "${TEST_PROCESSES:-}" && "$TEST_PROCESSES" != 1 ]]; then
    # loadgroup: the end-to-end tests that start their own stack stay in one process
    # (tests/conftest.py), while the others share the rest.
    set -- -n "$TEST_PROCESSES" --dist loadgroup "$@"
fi
if [[ "${NO_COVERAGE:-0}" == 1 ]]; then
    "$PY" -m pytest "$@"
    status=$?
else
    rm -f .coverage .coverage.*
    "$PY" -m coverage run -m pytest "$@"
    status=$?
    "$PY" -m coverage combine -q >/dev/null 2>&1
    echo "Coverage of the code the tests ran (test process and the processes it started):"
    "$PY" -m coverage report 2>&1
fi
echo "$label"
exit $status
