#!/usr/bin/env bash
# What `make run` serves: the optimised build, on loopback only, with demo
# data that the docs' examples describe, and everything it started gone
# after SIGTERM. Runs `make run` for
# real on free ports, on a database of the test cluster.
# Usage: tests/scripts/make_run.sh PG_BASE_URL   (prints "make run: N passed, N failed")
set -uo pipefail
cd "$(dirname "$0")/../.."
pg_base=$1
suite="make run"
# shellcheck source=tests/scripts/lib.sh
source tests/scripts/lib.sh

http_port=$(free_port)
ferret_port=$(free_port)
nats_port=$(free_port)
database=make_run_check_$$
log=$(mktemp)
PURCHASES_PORT=$http_port FERRETDB_PORT=$ferret_port FERRETDB_POSTGRESQL_URL=$pg_base/$database \
  NATS_PORT=$nats_port DEMO_USERS=123 setsid make --no-print-directory run >"$log" 2>&1 &
make_pid=$!

for _ in $(seq 600); do
  curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null && break
  kill -0 "$make_pid" 2>/dev/null || break
  sleep 0.5
done
server_pid=$(ss -ltnpH "sport = :$http_port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
check "the server answers" test -n "$server_pid"
if [[ -n $server_pid ]]; then
  exe=$(readlink "/proc/$server_pid/exe")
  check "it is build-release/purchases (was $exe)" test "$exe" = "$PWD/build-release/purchases"
  check "it is not a sanitizer build" bash -c "! grep -q libasan /proc/$server_pid/maps"
  check "the release build is configured without sanitizers" \
    grep -q '^PURCHASES_SANITIZE:BOOL=OFF' build-release/CMakeCache.txt
  listen=$(ss -ltnH "sport = :$http_port" | awk '{print $4}')
  check "it listens on 127.0.0.1 only (was $listen)" test "$listen" = "127.0.0.1:$http_port"
  users=$(curl -fs -H 'x-client-id: shop' -H 'x-user-id: 7' "http://127.0.0.1:$http_port/user/7" |
    jq '.data | length')
  check "demo data is there (user 7 has ${users:-no} purchases)" test "${users:-0}" -gt 0
  # The demo data is the same for a user whatever the number of users, so
  # 123 users give user 123 what the default 1,000 give.
  check "the docs' examples answer as written" \
    tests/scripts/doc_examples.py "127.0.0.1:$http_port" README.md docs/api.md
  # A purchase created against it shows up in purchases-events tail.
  curl -fs -o /dev/null "http://127.0.0.1:$http_port/purchases" -H 'x-client-id: checkout' \
    -H 'x-user-id: c' -H 'Content-Type: application/json' -d '{"id": "mr-1",
    "userId": "make-run", "status": "placed", "items": [{"id": "mug", "title": "Mug",
    "brand": "Potter", "imgUrl": null, "currency": "GBP", "pricePerUnitPence": 900,
    "quantity": 1, "priceTotalPence": 900}], "pricePence": 900, "currency": "GBP",
    "datePurchased": "2024-04-18T10:17:19.039Z", "payment": {"method": "card",
    "lastDigits": "4242", "receiptUrl": null}, "delivery": {"method": "standard",
    "storeLocation": null, "dateDelivered": null}}' || true
  check "a new purchase shows up in purchases-events tail" bash -c \
    "timeout 10 build-release/purchases-events tail --url nats://127.0.0.1:$nats_port \
      --user make-run --limit 1 | grep -q '\"subject\":\"mr-1\"'"
fi

kill -TERM -- "-$make_pid" 2>/dev/null
for _ in $(seq 100); do
  kill -0 "$make_pid" 2>/dev/null || break
  sleep 0.1
done
gone() { ! ss -ltnH "sport = :$1" | grep -q .; }
check "after SIGTERM nothing listens on the HTTP port" gone "$http_port"
check "after SIGTERM nothing listens on the FerretDB port" gone "$ferret_port"
check "after SIGTERM nothing listens on the NATS port" gone "$nats_port"
if ((failed > 0)); then tail -30 "$log"; fi
rm -f "$log"
psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1
report
((failed == 0))
