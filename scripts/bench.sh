#!/usr/bin/env bash
# make bench: loads the benchmark data set into FerretDB on PostgreSQL (once),
# starts the optimised build and measures it with wrk from this machine, next
# to the database's own ceiling: the same reads straight through mongo-c-driver
# (bench/ceiling.c, build-release/purchases-ceiling). Writes
# bench/results/<name>.json and bench/results/summary-issue10.json, and fails
# when page 200 of a heavy user costs more than 1.5x its first page, or when a
# target of summary-issue10.json is missed:
#   - service / ceiling at 64 connections >= 0.8, and no non-2xx answer;
#   - service at 512 connections / the best ceiling >= 0.8, every non-2xx a
#     429 or 503 with Retry-After, no socket error.
#
#   BENCH_DURATION           seconds per measurement (default 30)
#   BENCH_CONNECTIONS        connections for the fixed-request measurements
#                            (default 2, one per core)
#   FERRETDB_POSTGRESQL_URL  a PostgreSQL base URL (a database in it is ignored):
#                            the bench uses its database ferretdb_bench. Without
#                            it, scripts/postgres.sh starts (and at the end stops)
#                            the private bench cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

# Part issue38 (purchase events, scripts/bench-events.sh) needs none of the
# data set below: it runs first, on a database of its own.
events_failed=0
if [[ " ${BENCH_PARTS:-issue10 issue13 issue38} " == *" issue38 "* ]]; then
  scripts/bench-events.sh || events_failed=1
  if [[ ${BENCH_PARTS:-} == issue38 ]]; then exit "$events_failed"; fi
fi

duration=${BENCH_DURATION:-30}
connections=${BENCH_CONNECTIONS:-2}
threads=2
ferret_port=27090
http_port=8090
uri="mongodb://127.0.0.1:$ferret_port/purchases"
heavy_user=900001
empty_user=999999999
results=bench/results
ceiling=build-release/purchases-ceiling
mkdir -p "$results" var/log
for program in build-release/purchases build-release/purchases-seed "$ceiling"; do
  if [[ ! -x $program ]]; then
    echo "bench: $program is missing: run make release (make bench does)" >&2
    exit 1
  fi
done

# The data set: 100,000 users with 10 purchases each, and 5 heavy users
# (900001 to 900005) with 12,000 each: 1,060,000 purchases.
regular_users=100000
regular_per_user=10
heavy_users=5
heavy_per_user=12000
expected=$((regular_users * regular_per_user + heavy_users * heavy_per_user))

ferret_pid=""
server_pid=""
started_postgres=false
stop() {
  trap - INT TERM EXIT
  for pid in ${peer_pid:-} ${redis_pid:-} $server_pid $ferret_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if $started_postgres; then
    scripts/postgres.sh stop bench || true
  fi
}
trap stop INT TERM EXIT

if [[ -n ${FERRETDB_POSTGRESQL_URL:-} ]]; then
  # scheme://user@host:port, without any /database or ?parameters.
  rest=${FERRETDB_POSTGRESQL_URL#*://}
  authority=${rest%%/*}
  authority=${authority%%\?*}
  pg_base="${FERRETDB_POSTGRESQL_URL%%://*}://$authority"
else
  if ! scripts/postgres.sh status bench; then
    started_postgres=true
  fi
  pg_base=$(scripts/postgres.sh start bench)
fi
pg_url="$pg_base/ferretdb_bench"
scripts/pg-database.sh "$pg_url"

# Our launcher keeps the GIN indexes of deploy/ferretdb/postgresql-indexes.sql
# in place (FerretDB v1 sends {userId: "123"} to PostgreSQL as
# _jsonb->'userId' @> '"123"', which no btree index can serve; see
# docs/performance.md), also on tables that the load below creates.
.tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler postgresql \
  -postgresql-url "$pg_url" -pg-indexes deploy/ferretdb/postgresql-indexes.sql \
  -log-level error >>var/log/ferretdb-bench.log 2>&1 &
ferret_pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$ferret_port") 2>/dev/null; then break; fi
  sleep 0.1
done

# FerretDB keeps a collection in a table of its own naming; find it.
table_of() {
  psql "$pg_url" -tAc "SELECT _jsonb->>'table' FROM purchases._ferretdb_database_metadata
                       WHERE _jsonb->>'_id' = 'purchases'" 2>/dev/null || true
}
count=0
table=$(table_of)
if [[ -n $table ]]; then
  count=$(psql "$pg_url" -tAc "SELECT count(*) FROM purchases.\"$table\"")
fi
if ((count < expected)); then
  echo "bench: loading $expected purchases (have $count)"
  build-release/purchases-seed --uri "$uri" --users "$regular_users" \
    --per-user "$regular_per_user" --seed 1 --jobs 2
  build-release/purchases-seed --uri "$uri" --first-user "$heavy_user" --users "$heavy_users" \
    --per-user "$heavy_per_user" --seed 1 --jobs 2
  table=$(table_of)
  count=$(psql "$pg_url" -tAc "SELECT count(*) FROM purchases.\"$table\"")
fi
echo "bench: $count purchases in purchases.$table"

# Measure only once the launcher has made the userId index (it runs the
# index script every 2 s), and with fresh statistics.
has_index=""
for _ in $(seq 120); do
  has_index=$(psql "$pg_url" -tAc "SELECT indexname FROM pg_indexes WHERE schemaname = 'purchases'
                                    AND tablename = '$table' AND indexname LIKE '%\_userid\_gin'")
  if [[ -n $has_index ]]; then break; fi
  sleep 1
done
if [[ -z $has_index ]]; then
  echo "bench: no *_userid_gin index on purchases.$table after 120 s; see var/log/ferretdb-bench.log" >&2
  exit 1
fi
psql "$pg_url" -qc "ANALYZE purchases.\"$table\""
pg_version=$(psql "$pg_url" -tAc "SHOW server_version" | awk '{print $1}')
echo "bench: index $has_index in place, PostgreSQL $pg_version"

# The server, optimised build, rate limiting off (wrk is one principal at
# thousands a second), the bench's fixed route on, and the extra settings
# given as NAME=value arguments. Its log: var/log/purchases-bench.log.
base="http://127.0.0.1:$http_port"
# serve_prefix: a command the server runs under (scripts/bench-cache.sh sets
# taskset there to give it CPUs of its own); none here.
serve_prefix=()
start_server() {
  "${serve_prefix[@]}" env PURCHASES_PORT=$http_port PURCHASES_BIND_ADDRESS=127.0.0.1 MONGODB_URI=$uri \
    PURCHASES_LOG_LEVEL=warning PURCHASES_DB_QUERY_TIMEOUT_MS=60000 PURCHASES_RATE_LIMIT_RPS=0 \
    PURCHASES_CURSOR_KEY=bench-cursor-key-0123456789abcdef0123 PURCHASES_BENCH_ROUTES=1 "$@" \
    build-release/purchases >>var/log/purchases-bench.log 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    if curl -fs "$base/readyz" >/dev/null; then break; fi
    sleep 0.1
  done
}
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

# Which parts run (BENCH_PARTS, default all three; issue38 ran above): issue10, the database path
# (the response cache off) beside the database's own ceiling; issue13, the
# cache beside the framework, the database and the Node.js peer
# (scripts/bench-cache.sh).
parts=" ${BENCH_PARTS:-issue10 issue13 issue38} "
failed=$events_failed

# With its defaults for PURCHASES_DB_MAX_IN_FLIGHT and PURCHASES_DB_WAIT_MS:
# what the 64- and 512-connection runs judge. The cache is off: these are
# the figures of the database path.
start_server PURCHASES_CACHE_BYTES=0

# Customers reading their own purchases: the shop's path, not audited.
# (Rate limiting is off above: wrk is one principal at thousands a second.)
as_customer() {
  headers=(-H "x-client-id: shop" -H "x-user-id: $1")
}
as_customer "$heavy_user"

# The cursor of page 200 of the heavy user (after 199 x 20 = 3,980
# purchases). A cursor does not depend on the limit, so walk in pages of 100.
cursor=""
for limit in $(printf '100 %.0s' $(seq 39)) 80; do
  cursor=$(curl -fs "${headers[@]}" "$base/user/$heavy_user?limit=$limit${cursor:+&cursor=$cursor}" |
    jq -r '.page.nextCursor')
done

# Converts wrk's "850.00us", "12.34ms" or "1.02s" to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "null" } }'
}

# Fails the bench, with the server's exit status, when it is gone.
check_server() {
  if ! kill -0 "$server_pid" 2>/dev/null; then
    local code=0
    wait "$server_pid" 2>/dev/null || code=$?
    server_pid=""
    echo "bench: the server exited (status $code; above 128: signal minus 128) before $1;" \
      "see var/log/purchases-bench.log" >&2
    exit 1
  fi
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
commit=$(git rev-parse --short=12 HEAD)
# What every result file carries: data size, database, machine, commit, date.
metadata() {
  jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
    --arg cpu "$cpu" --argjson cores "$(nproc)" --argjson purchases "$count" \
    --arg database "FerretDB 1.24.2 on PostgreSQL $pg_version, GIN indexes of deploy/ferretdb/postgresql-indexes.sql" \
    '{data: {purchases: $purchases, users: 100005, heavyUserPurchases: 12000},
      database: $database, machine: {cpu: $cpu, cores: $cores}, commit: $commit, date: $date}'
}

# One fixed request, $connections connections over $threads wrk threads.
measure() {
  local name=$1 path=$2 description=$3
  local out status
  check_server "$name"
  # Warm up, then measure.
  wrk -t"$threads" -c"$connections" -d3s --timeout 60s "${headers[@]}" "$base$path" >/dev/null
  out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --timeout 60s --latency "${headers[@]}" "$base$path")
  status=$(curl -s -o /dev/null -w '%{http_code}' "${headers[@]}" "$base$path")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  timeouts=$(grep -Eo 'timeout [0-9]+' <<<"$out" | awk '{print $2}' || true)
  if [[ -n $timeouts && $timeouts != 0 ]]; then
    echo "bench: $name: $timeouts requests timed out; the figures would be wrong" >&2
    exit 1
  fi
  jq -n --arg name "$name" --arg description "$description" --arg path "$path" \
    --argjson rps "$rps" --argjson p50 "$p50" --argjson p99 "$p99" \
    --argjson status "$status" --argjson non2xx "${errors:-0}" \
    --argjson duration "$duration" --argjson connections "$connections" \
    --argjson threads "$threads" --argjson meta "$(metadata)" \
    '{name: $name, description: $description, path: $path, status: $status,
      requestsPerSecond: $rps, latencyMs: {p50: $p50, p99: $p99}, non2xx: $non2xx,
      wrk: {threads: $threads, connections: $connections, durationSeconds: $duration}} + $meta' \
    >"$results/$name.json"
  echo "bench: $name: $rps req/s, p50 $p50 ms, p99 $p99 ms (HTTP $status)"
}

# The server's database counters from /metrics, as one JSON object (nulls
# when /metrics does not have them).
db_counters() {
  curl -s "$base/metrics" | awk '
    $1 == "purchases_db_operation_duration_seconds_sum{operation=\"purchase_list\"}" { ls = $2 }
    $1 == "purchases_db_operation_duration_seconds_count{operation=\"purchase_list\"}" { lc = $2 }
    $1 == "purchases_db_slot_wait_seconds_sum" { ws = $2 }
    $1 == "purchases_db_slot_wait_seconds_count" { wc = $2 }
    $1 == "purchases_db_shed_total" { shed = $2 }
    $1 == "purchases_db_in_flight_limit" { limit = $2 }
    function v(x) { return x == "" ? "null" : x }
    END { printf "{\"listSeconds\": %s, \"lists\": %s, \"slotWaitSeconds\": %s, \"slotWaits\": %s, \"shed\": %s, \"inFlightLimit\": %s}\n",
                 v(ls), v(lc), v(ws), v(wc), v(shed), v(limit) }'
}

# GET /user/<random 1..100000> as that customer (bench/random-user.lua), with
# wrk's socket errors: nothing here makes a timeout fatal, it is a figure.
measure_random() {
  local name=$1 conns=$2 description=$3
  local out json socket before after
  check_server "$name"
  wrk -t2 -c"$conns" -d3s --timeout 10s -s bench/random-user.lua "$base" -- "$regular_users" >/dev/null
  before=$(db_counters)
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --timeout 10s -s bench/random-user.lua "$base" -- "$regular_users")
  json=$(grep '^{' <<<"$out" | tail -1)
  after=$(db_counters)
  socket=$(grep -m1 'Socket errors' <<<"$out" | sed 's/^ *//' || true)
  jq -n --arg name "$name" --arg description "$description" --argjson m "$json" \
    --arg socket "${socket:-none}" --argjson duration "$duration" --argjson conns "$conns" \
    --argjson before "$before" --argjson after "$after" --argjson meta "$(metadata)" \
    'def d(k): if $after[k] == null or $before[k] == null then null else $after[k] - $before[k] end;
     {name: $name, description: $description, path: "/user/<random 1..100000>"} + $m +
     {socketErrorsLine: $socket,
      server: {dbInFlightLimit: $after.inFlightLimit, shed: d("shed"), lists: d("lists"),
               listMeanMs: (if (d("lists") // 0) > 0 then (d("listSeconds") / d("lists") * 1000000 | round / 1000) else null end),
               slotWaitMeanMs: (if (d("slotWaits") // 0) > 0 then (d("slotWaitSeconds") / d("slotWaits") * 1000000 | round / 1000) else null end),
               note: "deltas of /metrics over the measured run; listMeanMs: purchase_list holding its pooled connection"},
      wrk: {threads: 2, connections: $conns, durationSeconds: $duration, timeoutSeconds: 10,
            script: "bench/random-user.lua"}} + $meta' >"$results/$name.json"
  check_server "the end of $name"
  jq -r '"bench: \(.name): \(.requestsPerSecond) req/s (\(.okPerSecond) 2xx/s), p50 \(.latencyMs.p50) ms, p99 \(.latencyMs.p99) ms, non-2xx \(.non2xx) \(.statuses), socket errors \(.socketErrors)"' \
    "$results/$name.json"
}

# The same reads straight through mongo-c-driver: the database's ceiling.
measure_ceiling() {
  local name=$1 description=$2
  shift 2
  local json
  "$ceiling" --uri "$uri" --duration 3 "$@" >/dev/null || true
  # Exits 3 when a query failed; the errors are in the figures.
  json=$("$ceiling" --uri "$uri" --duration "$duration" "$@" || true)
  if [[ -z $json ]]; then
    echo "bench: $name: purchases-ceiling printed nothing" >&2
    exit 1
  fi
  jq -n --arg name "$name" --arg description "$description" --argjson m "$json" \
    --arg args "$*" --argjson meta "$(metadata)" \
    '{name: $name, description: $description, ceilingArgs: $args} + $m + $meta' \
    >"$results/$name.json"
  jq -r '"bench: \(.name): \(.requestsPerSecond) q/s, p50 \(.latencyMs.p50) ms, p99 \(.latencyMs.p99) ms, errors \(.errors)"' \
    "$results/$name.json"
}

if [[ $parts == *" issue10 "* ]]; then
measure first-page "/user/$heavy_user?limit=20" \
  "first page of 20 of a user with 12,000 purchases"
measure page-200 "/user/$heavy_user?limit=20&cursor=$cursor" \
  "page 200 (purchases 3,981 to 4,000) of the same user"
measure filtered "/user/$heavy_user?status=delivered&from=2022-01-01&to=2024-01-01&minPricePence=2000&limit=20" \
  "delivered purchases of 2022-2023 above 20.00 of the same user"
as_customer 123
measure regular-user "/user/123" "first page of a user with 10 purchases"
# The same read by support staff: each one writes an audit record first.
headers=(-H "x-client-id: customer-support" -H "x-user-id: bench-agent")
measure support-read "/user/123" "the same page read by support staff, audited"
measure healthz "/healthz" "the HTTP layer alone: no database"

# One connection (so one wrk thread): the latency one customer sees, next to
# the database's own for the same query.
saved_connections=$connections
connections=1 threads=1
as_customer 123
purchase_id=$(curl -fs "${headers[@]}" "$base/user/123" | jq -r '.data[0].id')
if [[ -z $purchase_id || $purchase_id == null ]]; then
  echo "bench: user 123 has no purchases to read one of" >&2
  exit 1
fi
measure single-first-page "/user/123" "first page of user 123 (10 purchases), one connection"
measure single-purchase "/user/123/purchases/$purchase_id" "one purchase of user 123 by id, one connection"
as_customer "$empty_user"
measure single-empty "/user/$empty_user" "first page of a user without purchases, one connection"
connections=$saved_connections threads=2
measure_ceiling ceiling-single-first-page "the first-page query of user 123, one connection" \
  --connections 1 --user 123
measure_ceiling ceiling-single-purchase "the one-purchase query of user 123, one connection" \
  --connections 1 --user 123 --purchase-id "$purchase_id"
measure_ceiling ceiling-single-empty "the first-page query of a user without purchases, one connection" \
  --connections 1 --empty

# Random customers at 64 and 512 connections. The ceiling at 512 runs 512
# threads with a client each (a pool of 512): the database under as many
# concurrent queries as the service has connections, which on 2 cores is only
# more contention; the service itself sends at most PURCHASES_DB_MAX_IN_FLIGHT
# queries at once. The 512 target is judged against the better of the two
# ceilings. Throughput is 2xx answers per second (okPerSecond): a 503 is
# cheap and must not count as served; the ceiling counts successful queries.
measure_ceiling ceiling-64 "first pages of random users 1..100000, 64 threads, pool of 64" \
  --connections 64 --users "$regular_users"
measure_random service-64 64 "first pages of random users 1..100000, 64 connections"
measure_ceiling ceiling-512 "first pages of random users 1..100000, 512 threads, pool of 512" \
  --connections 512 --users "$regular_users"
measure_random service-512 512 "first pages of random users 1..100000, 512 connections"

# What the server says of its database bound (PURCHASES_DB_WAIT_MS is not
# exposed; null).
metrics=$(curl -s "$base/metrics" || true)
in_flight_limit=$(awk '$1 == "purchases_db_in_flight_limit" {print $2}' <<<"$metrics")
shed_total=$(awk '$1 == "purchases_db_shed_total" {print $2}' <<<"$metrics")

# The server's own footprint after all of the above.
peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
jq -n --argjson peak "$peak_kb" --argjson rss "$rss_kb" --argjson meta "$(metadata)" \
  '{peakResidentKiB: $peak, residentKiB: $rss, build: "RelWithDebInfo"} + $meta' \
  >"$results/server-memory.json"
echo "bench: server resident memory ${rss_kb} KiB, peak ${peak_kb} KiB"

ratio=$(jq -n --slurpfile a "$results/page-200.json" --slurpfile b "$results/first-page.json" \
  'if $b[0].latencyMs.p50 > 0 then ($a[0].latencyMs.p50 / $b[0].latencyMs.p50) * 100 | round / 100
   else null end')
echo "bench: page 200 / first page p50 = $ratio (must stay within 1.5)"
if ! jq -e -n --argjson r "$ratio" '$r != null and $r <= 1.5' >/dev/null; then
  echo "bench: page 200 costs more than 1.5x the first page" >&2
  failed=1
fi

jq -n --slurpfile c64 "$results/ceiling-64.json" --slurpfile s64 "$results/service-64.json" \
  --slurpfile c512 "$results/ceiling-512.json" --slurpfile s512 "$results/service-512.json" \
  --arg limit "${in_flight_limit:-}" --arg shed "${shed_total:-}" --argjson meta "$(metadata)" '
  def r: . * 100 | round / 100;
  ($c64[0].requestsPerSecond) as $c64r | ($c512[0].requestsPerSecond) as $c512r |
  ($s64[0].okPerSecond) as $s64r | ($s512[0].okPerSecond) as $s512r |
  ([$c64r, $c512r] | max) as $best |
  ($s512[0].socketErrors | add) as $sock |
  {
    ratios: {
      service64PerCeiling64: ($s64r / $c64r | r),
      service512PerCeiling64: ($s512r / $c64r | r),
      service512PerCeiling512: ($s512r / $c512r | r),
      service512PerBestCeiling: ($s512r / $best | r)
    },
    okPerSecond: {ceiling64: $c64r, service64: $s64r, ceiling512: $c512r, service512: $s512r},
    serviceAllAnswersPerSecond: {service64: $s64[0].requestsPerSecond, service512: $s512[0].requestsPerSecond},
    non2xx64: $s64[0].non2xx,
    statuses64: $s64[0].statuses,
    non2xx512: $s512[0].non2xx,
    statuses512: $s512[0].statuses,
    shedWithoutRetryAfter512: $s512[0].shedWithoutRetryAfter,
    non2xx512AllShedWithRetryAfter: ($s512[0].non2xx == $s512[0].shed and $s512[0].shedWithoutRetryAfter == 0),
    socketErrors512: $s512[0].socketErrors,
    socketErrors512Total: $sock,
    ceilingErrors: {ceiling64: $c64[0].errors, ceiling512: $c512[0].errors},
    server: {dbMaxInFlight: ($limit | if . == "" then null else tonumber end), dbWaitMs: null,
             dbShedTotal: ($shed | if . == "" then null else tonumber end),
             note: "defaults: PURCHASES_DB_MAX_IN_FLIGHT and PURCHASES_DB_WAIT_MS unset; read from /metrics"},
    targets: {service64PerCeiling64: ">= 0.8", non2xx64: 0,
              service512PerBestCeiling: ">= 0.8", non2xx512AllShedWithRetryAfter: true,
              socketErrors512Total: 0}
  } | .pass = {
    service64PerCeiling64: (.ratios.service64PerCeiling64 >= 0.8),
    non2xx64: (.non2xx64 == 0),
    service512PerBestCeiling: (.ratios.service512PerBestCeiling >= 0.8),
    non2xx512AllShedWithRetryAfter: .non2xx512AllShedWithRetryAfter,
    socketErrors512Total: (.socketErrors512Total == 0)
  } | . + $meta' >"$results/summary-issue10.json"

jq -r '
  "bench: service/ceiling at 64 = \(.ratios.service64PerCeiling64) (\(.okPerSecond.service64) / \(.okPerSecond.ceiling64) 2xx/s; target >= 0.8)",
  "bench: service at 512 / ceiling at 64 = \(.ratios.service512PerCeiling64), / ceiling at 512 = \(.ratios.service512PerCeiling512) (\(.okPerSecond.service512) / \(.okPerSecond.ceiling64) / \(.okPerSecond.ceiling512) 2xx/s; target >= 0.8 against the better)",
  "bench: non-2xx at 64: \(.non2xx64) \(.statuses64) (target 0)",
  "bench: non-2xx at 512: \(.non2xx512) \(.statuses512), all 429/503 with Retry-After: \(.non2xx512AllShedWithRetryAfter)",
  "bench: socket errors at 512: \(.socketErrors512) (target 0)",
  "bench: server database slots \(.server.dbMaxInFlight), shed so far \(.server.dbShedTotal)",
  (.pass | to_entries[] | select(.value | not) | "bench: target missed: \(.key)")' \
  "$results/summary-issue10.json"
if ! jq -e '.pass | all' "$results/summary-issue10.json" >/dev/null; then
  failed=1
fi
fi # issue10

if [[ $parts == *" issue13 "* ]]; then
  # shellcheck source=scripts/bench-cache.sh
  source scripts/bench-cache.sh
fi
exit "$failed"
