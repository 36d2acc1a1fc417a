#!/usr/bin/env bash
# make bench, part issue38: purchase events (docs/events.md), side by side
# with events off, in one run, on FerretDB on PostgreSQL, a nats-server and
# the optimised build, each of its own. Writes bench/results/events-*.json
# and bench/results/summary-issue38.json, and fails when a target is missed:
#   - a create's p50 (one connection) grows by less than 1 ms with events on;
#   - after BENCH_EVENTS_DURATION seconds (default 10) of creates at the
#     highest rate (16 connections), every event is published within 5 s;
#   - over BENCH_EVENTS_SOAK_S (default 300) of steady creates with NATS
#     stopped for BENCH_EVENTS_OUTAGE_S (default 60), the service's RSS is
#     flat (its last minute within 10 % of its first, after a 30 s warm-up)
#     and every event is published once NATS is back.
# Standalone (scripts/bench-events.sh) or from scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_EVENTS_DURATION:-10}
soak=${BENCH_EVENTS_SOAK_S:-300}
outage=${BENCH_EVENTS_OUTAGE_S:-60}
results=bench/results
work=$(mktemp -d)
mkdir -p "$results" var/log
log=var/log/purchases-bench-events.log
: >"$log"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
say() { echo "bench-events: $*"; }

ferret_pid="" nats_pid="" server_pid="" load_pid="" events_started_postgres=false
cleanup() {
  for pid in $load_pid $server_pid $nats_pid $ferret_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if $events_started_postgres; then scripts/postgres.sh stop bench >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL (the bench's cluster), a database of this part's own, emptied.
if [[ -n ${FERRETDB_POSTGRESQL_URL:-} ]]; then
  rest=${FERRETDB_POSTGRESQL_URL#*://}
  pg_base="${FERRETDB_POSTGRESQL_URL%%://*}://${rest%%/*}"
else
  if ! scripts/postgres.sh status bench; then events_started_postgres=true; fi
  pg_base=$(scripts/postgres.sh start bench)
fi
psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS ferretdb_events_bench WITH (FORCE)" >/dev/null
scripts/pg-database.sh "$pg_base/ferretdb_events_bench"

ferret_port=$(free_port)
.tools/bin/ferretdb -listen "127.0.0.1:$ferret_port" -handler postgresql \
  -postgresql-url "$pg_base/ferretdb_events_bench" -pg-indexes deploy/ferretdb/postgresql-indexes.sql \
  -log-level error >>"$log" 2>&1 &
ferret_pid=$!
nats_port=$(free_port)
start_nats() {
  nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$work/nats" >>"$log" 2>&1 &
  nats_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null; then return; fi
    sleep 0.1
  done
}
start_nats
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$ferret_port") 2>/dev/null; then break; fi
  sleep 0.1
done

http_port=$(free_port)
base="http://127.0.0.1:$http_port"
# start_server on|off
start_server() {
  local events=()
  if [[ $1 == on ]]; then events=(PURCHASES_NATS_URL="nats://127.0.0.1:$nats_port"); fi
  env PURCHASES_PORT="$http_port" PURCHASES_BIND_ADDRESS=127.0.0.1 \
    MONGODB_URI="mongodb://127.0.0.1:$ferret_port/events_bench" PURCHASES_LOG_LEVEL=warning \
    PURCHASES_RATE_LIMIT_RPS=0 "${events[@]}" build-release/purchases >>"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    if curl -fs "$base/readyz" >/dev/null; then return; fi
    sleep 0.1
  done
  say "the server did not become ready; see $log"
  exit 1
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
# metric NAME: its value on /metrics (0 when absent).
metric() {
  curl -fs "$base/metrics" | awk -v name="$1" '$1 == name {print $2; found = 1} END {if (!found) print 0}'
}
# creates TAG CONNECTIONS SECONDS [DELAY_MS]: wrk's JSON line.
creates() {
  wrk -t"$(($2 < 2 ? 1 : 2))" -c"$2" -d"$3s" --timeout 10s -s bench/create-purchase.lua "$base" \
    -- "$1" "${4:-0}" | grep '^{'
}
# Waits (up to $2 s) until `created` events of this server's life are
# published; prints the seconds it took, or -1.
drained_after() {
  local created=$1 limit=$2 started now
  started=$(date +%s.%N)
  while true; do
    if awk -v p="$(metric 'purchases_events_published_total{type="purchase.created"}')" \
      -v c="$created" 'BEGIN {exit !(p >= c)}'; then
      now=$(date +%s.%N)
      awk -v a="$started" -v b="$now" 'BEGIN {printf "%.2f\n", b - a}'
      return
    fi
    now=$(date +%s.%N)
    if awk -v a="$started" -v b="$now" -v l="$limit" 'BEGIN {exit !(b - a > l)}'; then
      echo -1
      return
    fi
    sleep 0.1
  done
}

# 1. A create's latency, one connection, events off and on in turn.
latency='[]'
for round in 1 2; do
  for mode in off on; do
    start_server "$mode"
    line=$(creates "lat-$mode-$round" 1 "$duration")
    stop_server
    say "latency, events $mode, round $round: $line"
    latency=$(jq -c --arg mode "$mode" --argjson r "$line" '. + [$r + {events: $mode}]' <<<"$latency")
  done
done

# 2. The highest rate with events off, then the same load with events on,
#    and how long until every event of it is published.
start_server off
burst_off=$(creates burst-off 16 "$duration")
stop_server
start_server on
burst_on=$(creates burst-on 16 "$duration")
drain=$(drained_after "$(jq '.created' <<<"$burst_on")" 60)
stop_server
say "burst: off $burst_off; on $burst_on; published all in ${drain}s"

# 3. The soak: steady creates (2 connections, 20 ms apart), NATS stopped
#    for the outage a third of the way in; RSS sampled every 5 s.
start_server on
creates soak 2 "$soak" 20 >"$work/soak.json" &
load_pid=$!
rss="$work/rss"
: >"$rss"
t=0
while kill -0 "$load_pid" 2>/dev/null; do
  if ((t == soak / 3)); then
    kill -TERM "$nats_pid"
    wait "$nats_pid" 2>/dev/null || true
    say "NATS stopped at ${t}s"
  elif ((t == soak / 3 + outage)); then
    start_nats
    say "NATS back at ${t}s"
  fi
  echo "$t $(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")" >>"$rss"
  sleep 5
  t=$((t + 5))
done
wait "$load_pid" || true
load_pid=""
soak_line=$(cat "$work/soak.json")
soak_drain=$(drained_after "$(jq '.created' <<<"$soak_line")" 120)
stop_server
rss_first=$(awk '$1 >= 30 && $1 < 90 {s += $2; n++} END {printf "%.0f", n ? s / n : 0}' "$rss")
rss_last=$(awk -v end="$soak" '$1 >= end - 60 {s += $2; n++} END {printf "%.0f", n ? s / n : 0}' "$rss")
rss_peak=$(awk '$2 > m {m = $2} END {print m + 0}' "$rss")
say "soak: $soak_line; RSS first minute ${rss_first} KiB, last ${rss_last} KiB, peak ${rss_peak} KiB; published all ${soak_drain}s after the load"

jq -n --argjson latency "$latency" --argjson burstOff "$burst_off" --argjson burstOn "$burst_on" \
  --argjson drain "$drain" --argjson soak "$soak_line" --argjson soakDrain "$soak_drain" \
  --argjson rssFirst "$rss_first" --argjson rssLast "$rss_last" --argjson rssPeak "$rss_peak" \
  --argjson seconds "$duration" --argjson soakSeconds "$soak" --argjson outage "$outage" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg machine "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" '
  def mean(f): (map(f) | add) / length;
  {commit: $commit, machine: $machine, seconds: $seconds, soakSeconds: $soakSeconds,
   outageSeconds: $outage, latency: $latency,
   p50OffMs: ($latency | map(select(.events == "off")) | mean(.p50_ms)),
   p50OnMs: ($latency | map(select(.events == "on")) | mean(.p50_ms)),
   burst: {off: $burstOff, on: $burstOn,
           offPerSecond: ($burstOff.created / $seconds), onPerSecond: ($burstOn.created / $seconds),
           drainedSeconds: $drain},
   soak: ($soak + {drainedSeconds: $soakDrain, rssFirstMinuteKiB: $rssFirst,
                   rssLastMinuteKiB: $rssLast, rssPeakKiB: $rssPeak})}
  | .p50GrowthMs = (.p50OnMs - .p50OffMs)
  | .pass = {p50GrowsLessThan1ms: (.p50GrowthMs < 1),
             burstPublishedWithin5s: (.burst.drainedSeconds >= 0 and .burst.drainedSeconds <= 5),
             soakRssFlat: (.soak.rssLastMinuteKiB <= .soak.rssFirstMinuteKiB * 1.1),
             soakAllPublished: (.soak.drainedSeconds >= 0),
             noFailedCreates: (.burst.off.other == 0 and .burst.on.other == 0 and .soak.other == 0)}' \
  >"$results/summary-issue38.json"
jq -r '"bench-events: p50 off \(.p50OffMs) ms, on \(.p50OnMs) ms (+\(.p50GrowthMs) ms; target < 1)",
  "bench-events: burst \(.burst.offPerSecond)/s off, \(.burst.onPerSecond)/s on; all published \(.burst.drainedSeconds) s after (target <= 5)",
  "bench-events: soak RSS \(.soak.rssFirstMinuteKiB) -> \(.soak.rssLastMinuteKiB) KiB (peak \(.soak.rssPeakKiB)); all published \(.soak.drainedSeconds) s after",
  (.pass | to_entries[] | select(.value | not) | "bench-events: target missed: \(.key)")' \
  "$results/summary-issue38.json"
jq -e '.pass | all' "$results/summary-issue38.json" >/dev/null
