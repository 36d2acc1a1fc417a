#!/usr/bin/env bash
# make run: FerretDB in the background, demo data when the collection is
# empty, then the service in the foreground. Ctrl-C or SIGTERM stops both.
#
#   FERRETDB_HANDLER=sqlite|postgresql  storage behind FerretDB (default sqlite, data in var/db)
#   FERRETDB_POSTGRESQL_URL             default postgres://postgres@127.0.0.1:5432/ferretdb
#   FERRETDB_PORT                       default 27017
#   DEMO_USERS, DEMO_PER_USER           demo data size (default 1000 users x 3 purchases)
set -euo pipefail
cd "$(dirname "$0")/.."

handler=${FERRETDB_HANDLER:-sqlite}
ferret_port=${FERRETDB_PORT:-27017}
pg_url=${FERRETDB_POSTGRESQL_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}
mkdir -p var/db var/log

if [[ $handler == postgresql ]]; then
  scripts/pg-database.sh "$pg_url"
fi

ferret_pid=""
server_pid=""
stop() {
  trap - INT TERM EXIT
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n $ferret_pid ]] && kill -0 "$ferret_pid" 2>/dev/null; then
    kill -TERM "$ferret_pid" 2>/dev/null || true
    wait "$ferret_pid" 2>/dev/null || true
  fi
  echo "run: stopped"
}
trap stop INT TERM EXIT

.tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler "$handler" \
  -sqlite-url file:var/db/ -postgresql-url "$pg_url" -log-level error \
  >>var/log/ferretdb.log 2>&1 &
ferret_pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$ferret_port") 2>/dev/null; then break; fi
  if ! kill -0 "$ferret_pid" 2>/dev/null; then
    echo "run: FerretDB did not start; see var/log/ferretdb.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "run: FerretDB ($handler) on 127.0.0.1:$ferret_port, log in var/log/ferretdb.log"

export MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:$ferret_port/purchases}
build/purchases-seed --if-empty --users "${DEMO_USERS:-1000}" --per-user "${DEMO_PER_USER:-3}"

build/purchases &
server_pid=$!
wait "$server_pid"
