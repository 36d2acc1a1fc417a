#!/usr/bin/env bash
# make bench: loads the benchmark data set into FerretDB on PostgreSQL (once),
# starts the optimised build, and measures three requests with wrk from this
# machine. Writes bench/results/<name>.json and fails when page 200 of a heavy
# user costs more than 1.5x its first page.
#
#   BENCH_DURATION   seconds per measurement (default 30)
#   BENCH_CONNECTIONS  concurrent connections (default 2, one per core)
#   BENCH_PG_URL     default postgres://postgres@127.0.0.1:5432/ferretdb_bench
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-30}
connections=${BENCH_CONNECTIONS:-2}
pg_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/ferretdb_bench}
ferret_port=27090
http_port=8090
uri="mongodb://127.0.0.1:$ferret_port/purchases"
heavy_user=900001
results=bench/results
mkdir -p "$results" var/log

# The data set: 100,000 users with 10 purchases each, and 5 heavy users
# (900001 to 900005) with 12,000 each: 1,060,000 purchases.
regular_users=100000
regular_per_user=10
heavy_users=5
heavy_per_user=12000
expected=$((regular_users * regular_per_user + heavy_users * heavy_per_user))

scripts/pg-database.sh "$pg_url"

ferret_pid=""
server_pid=""
stop() {
  trap - INT TERM EXIT
  for pid in $server_pid $ferret_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap stop INT TERM EXIT

.tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler postgresql \
  -postgresql-url "$pg_url" -log-level error >>var/log/ferretdb-bench.log 2>&1 &
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

# FerretDB v1 sends an equality on userId to PostgreSQL as
#   _jsonb->'userId' @> '"123"'
# which none of its btree indexes can serve: without this GIN index every
# request scans the whole table. See docs/performance.md.
psql "$pg_url" -qc "CREATE INDEX IF NOT EXISTS purchases_userid_gin
                    ON purchases.\"$table\" USING gin ((_jsonb->'userId'))"
psql "$pg_url" -qc "ANALYZE purchases.\"$table\""

PURCHASES_PORT=$http_port PURCHASES_BIND_ADDRESS=127.0.0.1 MONGODB_URI=$uri \
  PURCHASES_LOG_LEVEL=warning PURCHASES_DB_QUERY_TIMEOUT_MS=60000 PURCHASES_RATE_LIMIT_RPS=0 PURCHASES_CURSOR_KEY=bench-cursor-key-0123456789abcdef0123 \
  build-release/purchases >>var/log/purchases-bench.log 2>&1 &
server_pid=$!
base="http://127.0.0.1:$http_port"
for _ in $(seq 100); do
  if curl -fs "$base/readyz" >/dev/null; then break; fi
  sleep 0.1
done

# Customers reading their own purchases: the shop's path, not audited.
# (Rate limiting is off above: wrk is one principal at thousands a second.)
as_customer() {
  headers=(-H "x-client-id: shop" -H "x-user-id: $1")
}
as_customer "$heavy_user"

# FerretDB v1 reads, filters and sorts all 12,000 purchases of the heavy user
# in memory for every page (about 2 s each here), hence the long query
# timeout and few connections. The cursor of page 200 of the heavy user (after 199 x 20 = 3,980
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

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
measure() {
  local name=$1 path=$2 description=$3
  local out status
  # Warm up, then measure.
  wrk -t2 -c"$connections" -d3s --timeout 60s "${headers[@]}" "$base$path" >/dev/null
  out=$(wrk -t2 -c"$connections" -d"${duration}s" --timeout 60s --latency "${headers[@]}" "$base$path")
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
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$(git rev-parse --short=12 HEAD)" \
    --arg cpu "$cpu" --argjson cores "$(nproc)" --argjson purchases "$count" \
    '{name: $name, description: $description, path: $path, status: $status,
      requestsPerSecond: $rps, latencyMs: {p50: $p50, p99: $p99}, non2xx: $non2xx,
      wrk: {threads: 2, connections: $connections, durationSeconds: $duration},
      data: {purchases: $purchases, users: 100005, heavyUserPurchases: 12000},
      database: "FerretDB 1.24.2 on PostgreSQL 15, GIN index on userId",
      machine: {cpu: $cpu, cores: $cores}, commit: $commit, date: $date}' \
    >"$results/$name.json"
  echo "bench: $name: $rps req/s, p50 $p50 ms, p99 $p99 ms (HTTP $status)"
}

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

# The server's own footprint after all of the above.
peak_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
jq -n --argjson peak "$peak_kb" --argjson rss "$rss_kb" --arg commit "$(git rev-parse --short=12 HEAD)" \
  '{peakResidentKiB: $peak, residentKiB: $rss, build: "RelWithDebInfo", commit: $commit}' \
  >"$results/server-memory.json"
echo "bench: server resident memory ${rss_kb} KiB, peak ${peak_kb} KiB"

ratio=$(jq -n --slurpfile a "$results/page-200.json" --slurpfile b "$results/first-page.json" \
  '($a[0].latencyMs.p50 / $b[0].latencyMs.p50) * 100 | round / 100')
echo "bench: page 200 / first page p50 = $ratio (must stay within 1.5)"
if ! jq -e -n --argjson r "$ratio" '$r <= 1.5' >/dev/null; then
  echo "bench: page 200 costs more than 1.5x the first page" >&2
  exit 1
fi
