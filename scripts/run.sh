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
nats_pid=""
server_pid=""
started_postgres=false
stop() {
  trap - INT TERM EXIT
  for pid in $server_pid $nats_pid $ferret_pid; do
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

say() { echo "run: $*" >&2; }
# shellcheck source=scripts/engine.sh
source scripts/engine.sh
engine_start
engine_seed
engine_nats

# Loopback unless the caller opens it: in the default headers mode anyone who
# reaches the port can claim any identity.
export PURCHASES_BIND_ADDRESS=${PURCHASES_BIND_ADDRESS:-127.0.0.1}
"$build/purchases" &
server_pid=$!
wait "$server_pid"
