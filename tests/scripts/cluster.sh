#!/usr/bin/env bash
# What `make cluster` runs: three instances of the optimised build behind
# HAProxy, with a Redis of its own, on free loopback ports and a database of
# the test cluster. Checks status, supervision after a SIGKILL, a rolling
# restart and POSTs retried across a kill, all under traffic through the
# balancer, the edge's refusals, and that SIGTERM leaves nothing behind; then
# a second, smaller one started as a script's background job and stopped by
# SIGINT to its process group, which must stop it just as well.
# Usage: tests/scripts/cluster.sh [PG_BASE_URL]   (prints "cluster: N passed, N failed")
# Without PG_BASE_URL it uses (and starts, and then stops) `scripts/postgres.sh ... test`.
set -uo pipefail
cd "$(dirname "$0")/../.."
suite="cluster"
# shellcheck source=tests/scripts/lib.sh
source tests/scripts/lib.sh
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

pg_base=${1:-}
started_postgres=false
if [[ -z $pg_base ]]; then
  if ! scripts/postgres.sh status test; then started_postgres=true; fi
  pg_base=$(scripts/postgres.sh start test) || exit 1
fi
if [[ ! -x build-release/purchases || ! -x build-release/purchases-seed ||
  ! -x build-release/purchases-migrate ]]; then
  make --no-print-directory release >/dev/null || {
    echo "cluster: FAILED: make release"
    echo "cluster: 0 passed, 1 failed"
    exit 1
  }
fi

front=$(free_port)
ferret_port=$(free_port)
instance_ports=("$(free_port)" "$(free_port)" "$(free_port)")
state=$(mktemp -d)
work=$(mktemp -d)
log=$work/cluster.log
database=cluster_check_$$
user_url="http://127.0.0.1:$front/user/123"
shop=(-H 'x-client-id: shop' -H 'x-user-id: 123')

PURCHASES_INSTANCES=3 PURCHASES_PORT=$front CLUSTER_PORTS="${instance_ports[*]}" CLUSTER_DIR=$state \
  CLUSTER_OWN_REDIS=1 FERRETDB_PORT=$ferret_port FERRETDB_POSTGRESQL_URL=$pg_base/$database \
  NATS_PORT=$(free_port) DEMO_USERS=20 PURCHASES_RATE_LIMIT_RPS=1 PURCHASES_RATE_LIMIT_BURST=30 \
  PURCHASES_SHUTDOWN_TIMEOUT_S=5 BUILD_DIR=build-release \
  setsid scripts/cluster.sh run >"$log" 2>&1 &
cluster_pid=$!
status() { CLUSTER_DIR=$state scripts/cluster.sh status 2>/dev/null; }

up=false
for _ in $(seq 180); do
  if status >/dev/null && [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$front/readyz") == 200 ]]; then
    up=true
    break
  fi
  alive "$cluster_pid" || break
  sleep 0.5
done
check "the cluster comes up" $up

# --- status: exactly one NAME PID PORT line per instance
lines=$(status)
check "status prints 3 lines (got $(wc -l <<<"$lines"))" test "$(wc -l <<<"$lines")" -eq 3
check "each line is NAME PID PORT" bash -c '! grep -Evq "^purchases-[1-3] [0-9]+ [0-9]+$" <<<"$1"' _ "$lines"
check "the ports are the ones given" test "$(awk '{print $3}' <<<"$lines" | xargs)" = "${instance_ports[*]}"
pid_of() { status | awk -v n="purchases-$1" '$1 == n {print $2}'; }
declare -a first_pids
for i in 1 2 3; do first_pids[i]=$(pid_of "$i"); done

# --- what each instance runs with
keys=()
for i in 1 2 3; do
  pid=${first_pids[i]}
  port=${instance_ports[i - 1]}
  env_of() { tr '\0' '\n' <"/proc/$pid/environ" | grep "^$1=" | cut -d= -f2-; }
  check "purchases-$i is build-release/purchases" test "$(readlink "/proc/$pid/exe")" = "$PWD/build-release/purchases"
  check "purchases-$i listens on 127.0.0.1:$port only" \
    test "$(ss -ltnH "sport = :$port" | awk '{print $4}' | xargs)" = "127.0.0.1:$port"
  check "purchases-$i gets PURCHASES_PORT=$port" test "$(env_of PURCHASES_PORT)" = "$port"
  check "purchases-$i gets the caller's PURCHASES_RATE_LIMIT_RPS" test "$(env_of PURCHASES_RATE_LIMIT_RPS)" = 1
  check "purchases-$i gets PURCHASES_REDIS_URL" bash -c '[[ $1 == redis://127.0.0.1:* ]]' _ "$(env_of PURCHASES_REDIS_URL)"
  keys+=("$(env_of PURCHASES_CURSOR_KEY)$(env_of PURCHASES_REDIS_URL)")
done
check "all instances share PURCHASES_CURSOR_KEY and PURCHASES_REDIS_URL" \
  test "$(printf '%s\n' "${keys[@]}" | sort -u | wc -l)" -eq 1
check "HAProxy listens on 127.0.0.1:$front only" \
  test "$(ss -ltnH "sport = :$front" | awk '{print $4}' | sort -u | xargs)" = "127.0.0.1:$front"
redis_port=$(sed -nE 's/.*Redis: started on 127\.0\.0\.1:([0-9]+).*/\1/p' "$log" | head -1)
check "it started a Redis of its own (CLUSTER_OWN_REDIS=1)" test -n "$redis_port"

# --- reads through the balancer, and a cursor made by one instance used on the others
code=$(curl -s -o "$work/body" -w '%{http_code}' "${shop[@]}" "$user_url")
check "GET /user/123 through HAProxy answers 200 (got $code)" test "$code" = 200
cursor=$(curl -s -H 'x-client-id: shop' -H 'x-user-id: 7' "http://127.0.0.1:$front/user/7?limit=1" | jq -r '.page.nextCursor // empty')
codes=""
for _ in 1 2 3 4 5 6; do
  codes+=$(curl -s -o /dev/null -w '%{http_code} ' -H 'x-client-id: shop' -H 'x-user-id: 7' \
    "http://127.0.0.1:$front/user/7?limit=1&cursor=$cursor")
done
check "a cursor is accepted by every instance (got: $codes)" test "$codes" = "200 200 200 200 200 200 "

# --- the rate limit is one budget for the cluster: a burst of one customer
# through HAProxy, spread over three instances, is limited at 30 (a token a
# second comes back meanwhile), not at 3 x 30
served=0
limited=0
burst_started=$SECONDS
for _ in $(seq 90); do
  case $(curl -s -o /dev/null -w '%{http_code}' -H 'x-client-id: shop' -H "x-user-id: burst-$$" \
    "http://127.0.0.1:$front/user/burst-$$") in
    200) served=$((served + 1)) ;;
    429) limited=$((limited + 1)) ;;
  esac
done
# A token a second comes back while the burst runs: one budget allows 30
# plus the seconds it took, three budgets would allow 90.
allowed=$((30 + SECONDS - burst_started + 1))
check "a burst of 90 through HAProxy: $served served, $limited refused (one budget: at most $allowed)" \
  test "$served" -ge 30 -a "$served" -le "$allowed" -a "$allowed" -lt 60 -a $((served + limited)) -eq 90

# A stream of GETs through HAProxy until $2 exists: one status code a line in $1.
# Each GET is another customer's, so the rate limit (30 a customer, for the
# whole cluster) never refuses one.
stream() {
  local out=$1 stop=$2 deadline=$((SECONDS + 40)) n=0
  : >"$out"
  while [[ ! -e $stop ]] && ((SECONDS < deadline)); do
    n=$((n + 1))
    curl -s -o /dev/null -m 5 -w '%{http_code}\n' -H 'x-client-id: shop' -H "x-user-id: s$$-$n" \
      "http://127.0.0.1:$front/user/s$$-$n" >>"$out"
  done
}
non_200() { grep -vc '^200$' "$1"; }
hap_cli() { printf '%s\n' "$1" | socat -t 2 stdio "unix-connect:$state/haproxy.sock"; }

# --- SIGKILL one instance under a stream of GETs: no failed GET, and it is back
rm -f "$work/stop"
stream "$work/kill.codes" "$work/stop" &
stream_pid=$!
sleep 2
victim=${first_pids[2]}
kill -KILL "$victim"
back=""
for _ in $(seq 50); do
  now=$(pid_of 2)
  if [[ -n $now && $now != "$victim" ]] && alive "$now" &&
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${instance_ports[1]}/readyz") == 200 ]]; then
    back=$now
    break
  fi
  sleep 0.1
done
sleep 3
touch "$work/stop"
wait "$stream_pid"
total=$(wc -l <"$work/kill.codes")
bad=$(non_200 "$work/kill.codes")
echo "cluster: $total GETs while purchases-2 was killed, $bad failed; back as pid ${back:-none}"
check "GETs while purchases-2 is killed: $bad of $total failed" test "$bad" -eq 0 -a "$total" -gt 100
check "purchases-2 is started again with a new pid, ready within 5 s (was $victim, now ${back:-none})" test -n "$back"
check "status still prints 3 lines after the kill" test "$(status | wc -l)" -eq 3

# --- a rolling restart under a stream of GETs
before=$(status)
rm -f "$work/stop"
stream "$work/restart.codes" "$work/stop" &
stream_pid=$!
sleep 1
CLUSTER_DIR=$state scripts/cluster.sh restart >"$work/restart.log" 2>&1
restart_code=$?
sleep 1
touch "$work/stop"
wait "$stream_pid"
after=$(status)
total=$(wc -l <"$work/restart.codes")
bad=$(non_200 "$work/restart.codes")
echo "cluster: $total GETs during the rolling restart, $bad failed"
check "restart exits 0 (got $restart_code)" test "$restart_code" -eq 0
check "GETs during the rolling restart: $bad of $total failed" test "$bad" -eq 0 -a "$total" -gt 50
changed=0
for i in 1 2 3; do
  old=$(awk -v n="purchases-$i" '$1 == n {print $2}' <<<"$before")
  new=$(awk -v n="purchases-$i" '$1 == n {print $2}' <<<"$after")
  if [[ -n $new && $new != "$old" ]] && alive "$new"; then changed=$((changed + 1)); fi
done
check "restart replaced every instance ($changed of 3 pids changed)" test "$changed" -eq 3
check "restart left 3 instances in status" test "$(wc -l <<<"$after")" -eq 3

# --- POSTs with an Idempotency-Key, retried by the client across a kill: each recorded once
writer=cluster-$$
body() {
  jq -cn --arg user "$writer" '{userId: $user, status: "placed", items: [{id: "kettle-blue",
    title: "Blue Enamel Kettle 1.7L", brand: "Hearthware", imgUrl: "https://img.shop.example/k.jpg",
    currency: "GBP", pricePerUnitPence: 3499, quantity: 1, priceTotalPence: 3499}], pricePence: 3499,
    currency: "GBP", datePurchased: "2024-04-18T10:17:19.039Z",
    payment: {method: "card", lastDigits: "4242", receiptUrl: "https://shop.example/receipts/r1"},
    delivery: {method: "standard", storeLocation: null, dateDelivered: null}}'
}
posts=40
body >"$work/post.json"
# Four writers at once, so that the kill is likely to land on a POST in flight
# (which HAProxy answers 502 and does not retry: the client does).
writer_loop() {
  local from=$1 to=$2 k attempt code ok
  for ((k = from; k <= to; k++)); do
    ok=false
    for attempt in 1 2 3 4 5 6; do
      code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -X POST "http://127.0.0.1:$front/purchases" \
        -H 'x-client-id: checkout' -H "x-user-id: checkout-$from" -H 'Content-Type: application/json' \
        -H "Idempotency-Key: cluster-$$-$k" --data-binary @"$work/post.json")
      if [[ $code == 201 ]]; then
        ok=true
        break
      fi
      echo "retry $k $attempt $code" >>"$work/posts.log"
      sleep 0.2
    done
    $ok || echo "unrecorded $k" >>"$work/posts.log"
  done
}
: >"$work/posts.log"
# The killer waits until HAProxy counts a request in flight on purchases-1.
victim=$(pid_of 1)
(
  for _ in $(seq 300); do
    scur=$(hap_cli "show stat" | awk -F, '$1 == "be_purchases" && $2 == "purchases-1" {print $5}')
    [[ ${scur:-0} -gt 0 ]] && break
  done
  kill -KILL "$victim"
) &
killer=$!
writers=()
for w in 0 1 2 3; do
  writer_loop $((w * 10 + 1)) $((w * 10 + 10)) &
  writers+=($!)
done
wait "${writers[@]}" "$killer"
retried=$(grep -c '^retry' "$work/posts.log")
unrecorded=$(grep -c '^unrecorded' "$work/posts.log")
echo "cluster: $posts POSTs across a kill of purchases-1, $retried retried by the client with the same key" \
  "($(grep '^retry' "$work/posts.log" | awk '{print $4}' | sort | uniq -c | xargs))"
check "every POST is answered 201 within 6 tries ($unrecorded not)" test "$unrecorded" -eq 0
recorded=$(curl -s -H 'x-client-id: shop' -H "x-user-id: $writer" "http://127.0.0.1:$front/user/$writer?limit=100" |
  jq '[.data[].id] | unique | length')
check "the $posts POSTs are recorded once each (found ${recorded:-none})" test "${recorded:-0}" -eq "$posts"

# The instance killed above may still be starting: each must be ready first.
for port in "${instance_ports[@]}"; do
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]] && break
    sleep 0.1
  done
done

# --- Redis stopped mid-test: answers go on through HAProxy, each instance
# limits on its own; Redis back (empty, as without persistence): shared again
metric_on() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
first=${instance_ports[0]}
redis_cli() { redis-cli -p "$redis_port" "$@" >/dev/null 2>&1; }
redis_cli shutdown nosave
for _ in $(seq 50); do redis_cli ping || break; sleep 0.1; done
bad=0
for n in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-client-id: shop' -H "x-user-id: r$$-$n" \
    "http://127.0.0.1:$front/user/r$$-$n")
  [[ $code == 200 ]] || bad=$((bad + 1))
done
curl -s -o /dev/null -H 'x-client-id: shop' -H "x-user-id: r$$-direct" "http://127.0.0.1:$first/user/r$$-direct"
check "Redis stopped: 20 GETs through HAProxy, $bad not 200" test "$bad" -eq 0
check "Redis stopped: limits are the instance's own (purchases_rate_limit_shared $(metric_on "$first" purchases_rate_limit_shared))" \
  test "$(metric_on "$first" purchases_rate_limit_shared)" = 0
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis-again.pid" --logfile "$work/redis-again.log" >/dev/null
for _ in $(seq 50); do redis_cli ping && break; sleep 0.1; done
sleep 1.5 # past the instances' pause after a failure
shared=""
for _ in $(seq 20); do
  curl -s -o /dev/null -H 'x-client-id: shop' -H "x-user-id: r$$-back" "http://127.0.0.1:$first/user/r$$-back"
  shared=$(metric_on "$first" purchases_rate_limit_shared)
  [[ $shared == 1 ]] && break
  sleep 0.2
done
check "Redis back: limits are shared again (purchases_rate_limit_shared ${shared:-none})" test "$shared" = 1

# --- the cache across the cluster: every instance holds the user's page,
# a write through the balancer, and the next read on each instance sees it
reader=cache-$$
page_on() { curl -s -H 'x-client-id: shop' -H "x-user-id: $reader" "http://127.0.0.1:$1/user/$reader"; }
for port in "${instance_ports[@]}"; do page_on "$port" >/dev/null; page_on "$port" >/dev/null; done
jq -c --arg user "$reader" '.userId = $user | .id = "seen-everywhere"' "$work/post.json" >"$work/post2.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$front/purchases" \
  -H 'x-client-id: checkout' -H 'x-user-id: checkout-1' -H 'Content-Type: application/json' \
  --data-binary @"$work/post2.json")
seen=""
for port in "${instance_ports[@]}"; do
  seen+=$(page_on "$port" | jq -r '[.data[].id] | index("seen-everywhere") != null')" "
done
check "a write through HAProxy (got $code) is seen by the next read on every instance (got: $seen)" \
  test "$seen" = "true true true "
for _ in $(seq 50); do
  status >/dev/null && break
  sleep 0.1
done

# --- the edge: refused by HAProxy, never passed to an instance
served() {
  hap_cli "show stat" |
    awk -F, '$1 == "be_purchases" && $2 ~ /^purchases-/ {n += $8} END {print n + 0}'
}
raw() {
  python3 - "$front" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[1] if data else "none")
PY
}
head='GET /user/123 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\nx-user-id: 123\r\n'
big=$(head -c 20480 /dev/zero | tr '\0' a)
long=$(head -c 5000 /dev/zero | tr '\0' a)
declare -A edge=(
  ["a NUL byte in a header value"]="${head}x-note: a\\x00b\\r\\n\\r\\n"
  ["a control byte (0x01) in a header value"]="${head}x-note: a\\x01b\\r\\n\\r\\n"
  ["two Content-Length headers with different values"]='POST /purchases HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'
  ["Content-Length with Transfer-Encoding"]='POST /purchases HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
  ["a 20 KiB header value"]="${head}x-note: $big\\r\\n\\r\\n"
  ["a 5000-byte URL"]="GET /user/123?q=$long HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
  ["an underscore in a header name"]="${head}x_user_id: 1\\r\\n\\r\\n"
)
served_before=$(served)
for what in "${!edge[@]}"; do
  got=$(raw "${edge[$what]}")
  check "$what: refused by HAProxy with a 4xx (got $got)" bash -c '[[ $1 == 4[0-9][0-9] ]]' _ "$got"
done
check "none of them reached an instance" test "$(served)" = "$served_before"
value=$(head -c 8000 /dev/zero | tr '\0' b)
served_before=$(served)
got=$(raw "GET /user/123?limit=5 HTTP/1.1\\r\\nHost: x\\r\\nx-client-id: shop\\r\\nx-user-id: 123\\r\\nx-a: $value\\r\\nx-b: $value\\r\\n\\r\\n")
check "a head at the service's limits (two 8000-byte values) is served (got $got)" test "$got" = 200
got=$(raw "GET /user/123?q=$(head -c 4084 /dev/zero | tr '\0' c) HTTP/1.1\\r\\nHost: x\\r\\nx-client-id: shop\\r\\nx-user-id: 123\\r\\n\\r\\n")
check "a 4096-byte URL is passed to an instance (which judges its query: $got)" \
  test "$(served)" -eq $((served_before + 2))

# --- SIGTERM stops everything it started, and it exits 0 (the Redis the
# test started again in place of the cluster's is the test's to stop)
redis_cli shutdown nosave
kill -TERM "$cluster_pid"
for _ in $(seq 300); do
  alive "$cluster_pid" || break
  sleep 0.1
done
wait "$cluster_pid"
code=$?
check "after SIGTERM the cluster exits 0 (got $code)" test "$code" -eq 0
# (Its log prefixers end a moment after the processes whose lines they carry.)
for _ in $(seq 30); do
  left=$(pgrep -s "$cluster_pid" | xargs)
  [[ -z $left ]] && break
  sleep 0.1
done
check "no process it started remains (left: ${left:-none})" test -z "$left"
gone() { ! ss -ltnH "sport = :$1" | grep -q .; }
for port in "$front" "$ferret_port" "${instance_ports[@]}" ${redis_port:+"$redis_port"}; do
  check "nothing listens on port $port" gone "$port"
done

# --- SIGINT to its process group, as a CI script stops what it started in
# the background (where SIGINT starts out ignored, as it does here): it
# stops like SIGTERM and starts no instance again
front2=$(free_port)
ferret_port2=$(free_port)
instance_ports2=("$(free_port)" "$(free_port)")
state2=$(mktemp -d)
log2=$work/cluster-sigint.log
PURCHASES_INSTANCES=2 PURCHASES_PORT=$front2 CLUSTER_PORTS="${instance_ports2[*]}" CLUSTER_DIR=$state2 \
  CLUSTER_OWN_REDIS=1 FERRETDB_PORT=$ferret_port2 FERRETDB_POSTGRESQL_URL=$pg_base/$database \
  NATS_PORT=$(free_port) DEMO_USERS=20 PURCHASES_SHUTDOWN_TIMEOUT_S=5 BUILD_DIR=build-release \
  setsid scripts/cluster.sh run >"$log2" 2>&1 &
cluster2_pid=$!
up=false
for _ in $(seq 180); do
  if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$front2/readyz") == 200 ]]; then
    up=true
    break
  fi
  alive "$cluster2_pid" || break
  sleep 0.5
done
check "a second cluster, for SIGINT, comes up" $up
kill -INT -- "-$cluster2_pid" 2>/dev/null
for _ in $(seq 300); do
  alive "$cluster2_pid" || break
  sleep 0.1
done
stopped=true
if alive "$cluster2_pid"; then
  stopped=false
  kill -TERM "$cluster2_pid"
fi
check "SIGINT to its process group stops it within 30 s" $stopped
wait "$cluster2_pid"
code=$?
check "after SIGINT to its process group the cluster exits 0 (got $code)" test "$code" -eq 0
check "after SIGINT it started no instance again" bash -c '! grep -q "starting it again" "$1"' _ "$log2"
for _ in $(seq 30); do
  left=$(pgrep -s "$cluster2_pid" | xargs)
  [[ -z $left ]] && break
  sleep 0.1
done
check "after SIGINT no process it started remains (left: ${left:-none})" test -z "$left"
if [[ -n $left ]]; then
  read -r -a left_pids <<<"$left"
  kill -KILL "${left_pids[@]}" 2>/dev/null
fi
for port in "$front2" "$ferret_port2" "${instance_ports2[@]}"; do
  check "after SIGINT nothing listens on port $port" gone "$port"
done
if ((failed > 0)); then tail -20 "$log2"; fi
rm -rf "$state2"

if ((failed > 0)); then
  tail -40 "$log"
  cat "$work/restart.log" "$work/posts.log" 2>/dev/null | tail -20
fi
# CLUSTER_TEST_LOG=FILE keeps the cluster's own log (every instance's and HAProxy's lines).
if [[ -n ${CLUSTER_TEST_LOG:-} ]]; then cp "$log" "$CLUSTER_TEST_LOG"; fi
rm -rf "$work" "$state"
psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1
if $started_postgres; then scripts/postgres.sh stop test; fi
report
((failed == 0))
