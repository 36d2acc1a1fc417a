#!/usr/bin/env bash
# make run: PostgreSQL (unless one is given) and FerretDB in the background,
# demo data when the collection is empty, then the optimised server in the
# foreground on 127.0.0.1. Ctrl-C or SIGTERM stops all that this started.
#
#   FERRETDB_HANDLER=postgresql|sqlite  storage behind FerretDB (default postgresql)
#   FERRETDB_POSTGRESQL_URL             a PostgreSQL to use instead of our own cluster,
#                                       e.g. postgres://postgres@127.0.0.1:5432/ferretdb
#                                       (no database in the URL: /ferretdb is used)
#   FERRETDB_PORT                       default 27017
#   DEMO_USERS, DEMO_PER_USER           demo data size (default 1000 users x 3 purchases)
#   BUILD_DIR                           where the binaries are (default build-release)
#
# Our own cluster (scripts/postgres.sh, purpose "run") keeps its data where
# `scripts/postgres.sh dir run` says; the SQLite handler keeps it in var/db.
set -euo pipefail
cd "$(dirname "$0")/.."

handler=${FERRETDB_HANDLER:-postgresql}
ferret_port=${FERRETDB_PORT:-27017}
build=${BUILD_DIR:-build-release}
mkdir -p var/db var/log

ferret_pid=""
server_pid=""
started_postgres=false
stop() {
  trap - INT TERM EXIT
  for pid in $server_pid $ferret_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if $started_postgres; then
    scripts/postgres.sh stop run || true
  fi
  echo "run: stopped"
}
trap stop INT TERM EXIT

pg_args=()
case $handler in
  postgresql)
    if [[ -n ${FERRETDB_POSTGRESQL_URL:-} ]]; then
      pg_url=$FERRETDB_POSTGRESQL_URL
      # A URL without a database names the server only.
      if [[ ! ${pg_url#*://} =~ / ]]; then pg_url=$pg_url/ferretdb; fi
    else
      if ! scripts/postgres.sh status run; then started_postgres=true; fi
      pg_url=$(scripts/postgres.sh start run)/ferretdb
    fi
    scripts/pg-database.sh "$pg_url"
    pg_args=(-postgresql-url "$pg_url" -pg-indexes deploy/ferretdb/postgresql-indexes.sql)
    where="PostgreSQL ${pg_url%%\?*}"
    ;;
  sqlite)
    pg_args=(-sqlite-url file:var/db/)
    where="SQLite in var/db (a handful of documents only: every read scans the collection)"
    ;;
  *)
    echo "run: FERRETDB_HANDLER must be postgresql or sqlite, not '$handler'" >&2
    exit 2
    ;;
esac

.tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler "$handler" "${pg_args[@]}" \
  -log-level error >>var/log/ferretdb.log 2>&1 &
ferret_pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$ferret_port") 2>/dev/null; then break; fi
  if ! kill -0 "$ferret_pid" 2>/dev/null; then
    echo "run: FerretDB did not start; see var/log/ferretdb.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "run: FerretDB on 127.0.0.1:$ferret_port over $where; log in var/log/ferretdb.log"

export MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:$ferret_port/purchases}
"$build/purchases-seed" --if-empty --users "${DEMO_USERS:-1000}" --per-user "${DEMO_PER_USER:-3}"

# Loopback unless the caller opens it: in the default headers mode anyone who
# reaches the port can claim any identity.
export PURCHASES_BIND_ADDRESS=${PURCHASES_BIND_ADDRESS:-127.0.0.1}
"$build/purchases" &
server_pid=$!
wait "$server_pid"
