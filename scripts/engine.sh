# Sourced by scripts/run.sh and scripts/cluster.sh: the default engine as
# `make run` starts it. Uses $handler (postgresql or sqlite), $ferret_port
# and $build; sets started_postgres (true when it started our own cluster),
# ferret_pid and MONGODB_URI. Errors go through the caller's `say`.
#
#   engine_start   PostgreSQL (ours, unless FERRETDB_POSTGRESQL_URL names
#                  one) or SQLite, then FerretDB on 127.0.0.1:$ferret_port,
#                  waiting until it accepts connections
#   engine_seed    demo data when the collection is empty (DEMO_USERS x
#                  DEMO_PER_USER, default 1000 x 3)
#   engine_nats    unless PURCHASES_NATS_URL names one: nats-server with
#                  JetStream on 127.0.0.1:${NATS_PORT:-14222}, its store in
#                  var/nats/<port>; sets nats_pid, exports PURCHASES_NATS_URL

# engine_wait PORT PID WHAT: waits (10 s at most) until 127.0.0.1:PORT
# accepts connections; exits, saying WHAT did not start, when PID has died.
engine_wait() {
  local port=$1 pid=$2 what=$3
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$what did not start"
      exit 1
    fi
    sleep 0.1
  done
}

engine_start() {
  local pg_args=() pg_url where
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
      say "FERRETDB_HANDLER must be postgresql or sqlite, not '$handler'"
      exit 2
      ;;
  esac
  mkdir -p var/db var/log
  .tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler "$handler" "${pg_args[@]}" \
    -log-level error >>var/log/ferretdb.log 2>&1 &
  ferret_pid=$!
  engine_wait "$ferret_port" "$ferret_pid" "FerretDB (see var/log/ferretdb.log)"
  say "FerretDB on 127.0.0.1:$ferret_port over $where; log in var/log/ferretdb.log"
  export MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:$ferret_port/purchases}
}

engine_seed() {
  # A database an earlier release wrote is brought to this one's shape
  # first (docs/scaling.md); on any other it does nothing.
  "$build/purchases-migrate" --quiet
  "$build/purchases-seed" --if-empty --users "${DEMO_USERS:-1000}" --per-user "${DEMO_PER_USER:-3}"
}

engine_nats() {
  local port=${NATS_PORT:-14222}
  if [[ -n ${PURCHASES_NATS_URL:-} ]]; then
    say "events to $PURCHASES_NATS_URL"
    return
  fi
  mkdir -p "var/nats/$port" var/log
  nats-server -js -a 127.0.0.1 -p "$port" -sd "var/nats/$port" >>var/log/nats.log 2>&1 &
  nats_pid=$!
  engine_wait "$port" "$nats_pid" \
    "nats-server (is port $port in use? set NATS_PORT; see var/log/nats.log)"
  say "NATS with JetStream on 127.0.0.1:$port, its store in var/nats/$port; log in var/log/nats.log"
  export PURCHASES_NATS_URL=nats://127.0.0.1:$port
}
