#!/usr/bin/env bash
# make cluster: several instances of the optimised server behind HAProxy, on
# loopback, sharing one Redis and the default engine. See docs/cluster.md.
#
#   scripts/cluster.sh run       in the foreground: PostgreSQL (unless one is
#                                given) and FerretDB as `make run` starts them,
#                                demo data when empty, a Redis, the instances,
#                                HAProxy; then supervises the instances until
#                                Ctrl-C, SIGINT or SIGTERM stops all that it
#                                started
#   scripts/cluster.sh status    one line per instance: NAME PID PORT
#   scripts/cluster.sh restart   replaces the instances one at a time, with no
#                                failed request; exits 0 when all are replaced
#
#   PURCHASES_INSTANCES      how many instances (default 3)
#   PURCHASES_PORT           HAProxy's port (default 8080); each instance gets
#                            its own port and PURCHASES_BIND_ADDRESS=127.0.0.1
#   PURCHASES_REDIS_URL      a Redis to share; unset: the machine's on
#                            127.0.0.1:6379 when it answers PING, else one
#                            started here (and stopped at the end)
#   PURCHASES_CURSOR_KEY     shared by all instances; unset: one made per run
#   PURCHASES_*              every other one reaches every instance as it is
#   CLUSTER_DIR              state: pid files, the HAProxy socket and config
#                            (default var/cluster)
#   CLUSTER_BASE_PORT        the first instance's port (default 18081, then
#                            18082, ...); CLUSTER_PORTS="p1 p2 ..." lists them
#   CLUSTER_BIND_ADDRESS     HAProxy's address (default 127.0.0.1)
#   CLUSTER_OWN_REDIS=1      start a Redis of its own even when 6379 answers
#   CLUSTER_ALLOW_CHUNKED=1  let chunked request bodies through HAProxy
#   FERRETDB_HANDLER, FERRETDB_POSTGRESQL_URL, FERRETDB_PORT, DEMO_USERS,
#   DEMO_PER_USER, BUILD_DIR as for scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# SIGINT stops the supervisor like SIGTERM, even when it was started with
# SIGINT ignored, as a script's background job is (`make cluster &` in CI,
# stopped later by SIGINT to its process group). A shell cannot trap a signal
# ignored on entry ("help trap"), so the instances would stop and the
# supervisor would start them again. It starts itself again instead, with
# SIGINT at its default, in the same process (same pid, same group).
sigint_ignored() {
  local mask
  mask=$(awk '/^SigIgn:/ {print $2}' "/proc/$$/status" 2>/dev/null || true)
  [[ -n $mask ]] && (((16#$mask & 2) != 0))
}
if [[ ${1:-} == run && -z ${CLUSTER_SIGINT_RESET:-} ]] && sigint_ignored; then
  exec env --default-signal=INT CLUSTER_SIGINT_RESET=1 scripts/cluster.sh "$@"
fi
unset CLUSTER_SIGINT_RESET

command=${1:-}
dir=${CLUSTER_DIR:-var/cluster}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
backend=be_purchases

say() { echo "cluster: $*" >&2; }

# A live process, not a zombie waiting for its parent.
alive() {
  local pid=${1:-}
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)
  [[ $state != Z && $state != X ]]
}

port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

# The HAProxy runtime API (its stats socket).
hap() {
  if command -v socat >/dev/null; then
    printf '%s\n' "$1" | socat -t 2 stdio "unix-connect:$dir/haproxy.sock"
  else
    python3 - "$dir/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
while True:
    data = s.recv(65536)
    if not data:
        break
    sys.stdout.write(data.decode(errors="replace"))
PY
  fi
}

# "qcur scur status" of one server, from the stats CSV.
server_stat() {
  hap "show stat" | awk -F, -v be="$backend" -v sv="$1" '$1 == be && $2 == sv {print $3, $5, $18}'
}

# The supervisor of this state folder (a pid file left by a crash whose
# number now belongs to another program does not count).
supervisor_running() {
  local pid
  pid=$(cat "$dir/supervisor.pid" 2>/dev/null || true)
  alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'cluster\.sh run'
}

readyz() {
  [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/readyz") == 200 ]]
}

redis_ping() {
  local reply=""
  (
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf 'PING\r\n' >&3
    read -r -t 1 reply <&3 || exit 1
    [[ $reply == +PONG* ]]
  ) 2>/dev/null
}

cmd_status() {
  if ! supervisor_running; then
    say "not running (no supervisor in $dir)"
    exit 3
  fi
  local n i pid port rc=0
  n=$(cat "$dir/instances")
  for ((i = 1; i <= n; i++)); do
    pid=$(cat "$dir/purchases-$i.pid" 2>/dev/null || true)
    port=$(cat "$dir/purchases-$i.port")
    if alive "$pid"; then
      echo "purchases-$i $pid $port"
    else
      echo "purchases-$i - $port"
      rc=1
    fi
  done
  exit $rc
}

# Replaces each instance in turn. The supervisor (scripts/cluster.sh run)
# owns the processes: this takes the instance out of HAProxy, waits until it
# has nothing in flight, stops it with SIGTERM, and the supervisor starts its
# successor on the same port (the marker file tells it that the exit was
# asked for); once that one answers /readyz, it goes back into HAProxy.
cmd_restart() {
  if ! supervisor_running; then
    say "not running (no supervisor in $dir)"
    exit 3
  fi
  if ! mkdir "$dir/restart.lock" 2>/dev/null; then
    local holder
    holder=$(cat "$dir/restart.lock/pid" 2>/dev/null || true)
    if alive "$holder"; then
      say "a restart is already running (pid $holder)"
      exit 1
    fi
    rm -rf "$dir/restart.lock"
    mkdir "$dir/restart.lock"
  fi
  echo $$ >"$dir/restart.lock/pid"
  current=""
  finish() {
    local code=$?
    if [[ -n $current ]]; then
      # Interrupted half-way: hand the server back to the health checks.
      hap "set server $backend/$current state ready" >/dev/null 2>&1 || true
      rm -f "$dir/$current.replacing"
    fi
    rm -rf "$dir/restart.lock"
    exit $code
  }
  trap finish EXIT
  trap 'exit 130' INT TERM

  local n i name port old new stat drain_s deadline
  n=$(cat "$dir/instances")
  drain_s=$((${PURCHASES_SHUTDOWN_TIMEOUT_S:-10} + 5))
  for ((i = 1; i <= n; i++)); do
    name=purchases-$i
    port=$(cat "$dir/$name.port")
    old=$(cat "$dir/$name.pid")
    current=$name
    touch "$dir/$name.replacing"
    # Out of the rotation: drain (no new requests), then maintenance.
    hap "set server $backend/$name state drain" >/dev/null
    deadline=$((SECONDS + drain_s))
    while :; do
      read -r qcur scur _ < <(server_stat "$name") || true
      if [[ ${qcur:-1} == 0 && ${scur:-1} == 0 ]]; then break; fi
      if ((SECONDS >= deadline)); then
        say "$name still has $scur request(s) after ${drain_s}s; stopping it anyway"
        break
      fi
      sleep 0.1
    done
    hap "set server $backend/$name state maint" >/dev/null
    # The service finishes requests in flight, then exits 0.
    kill -TERM "$old" 2>/dev/null || true
    deadline=$((SECONDS + drain_s))
    while alive "$old"; do
      if ((SECONDS >= deadline)); then
        say "$name (pid $old) did not stop in ${drain_s}s; SIGKILL"
        kill -KILL "$old" 2>/dev/null || true
      fi
      sleep 0.1
    done
    # Its successor, started by the supervisor.
    deadline=$((SECONDS + 60))
    while :; do
      new=$(cat "$dir/$name.pid" 2>/dev/null || true)
      if [[ $new != "$old" ]] && alive "$new" && readyz "$port"; then break; fi
      if ((SECONDS >= deadline)); then
        say "$name: no ready successor on port $port after 60s"
        exit 1
      fi
      if ! supervisor_running; then
        say "the supervisor is gone"
        exit 1
      fi
      sleep 0.1
    done
    hap "set server $backend/$name state ready" >/dev/null
    deadline=$((SECONDS + 10))
    while :; do
      read -r _ _ stat < <(server_stat "$name") || true
      if [[ $stat == UP* ]]; then break; fi
      if ((SECONDS >= deadline)); then
        say "$name is ready but HAProxy still says '$stat' after 10s"
        exit 1
      fi
      sleep 0.1
    done
    rm -f "$dir/$name.replacing"
    current=""
    say "$name replaced: pid $old -> $new, port $port"
  done
  say "restart: all $n instances replaced"
}

cmd_run() {
  local n=${PURCHASES_INSTANCES:-3}
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 64)); then
    say "PURCHASES_INSTANCES must be 1 to 64, not '$n'"
    exit 2
  fi
  local front_port=${PURCHASES_PORT:-8080}
  local handler=${FERRETDB_HANDLER:-postgresql}
  local ferret_port=${FERRETDB_PORT:-27017}
  local i
  build=${BUILD_DIR:-build-release}
  ports=()
  if [[ -n ${CLUSTER_PORTS:-} ]]; then
    read -r -a ports <<<"$CLUSTER_PORTS"
    if ((${#ports[@]} != n)); then
      say "CLUSTER_PORTS lists ${#ports[@]} ports for $n instances"
      exit 2
    fi
  else
    for ((i = 0; i < n; i++)); do ports+=($((${CLUSTER_BASE_PORT:-18081} + i))); done
  fi
  for port in "$front_port" "${ports[@]}"; do
    if ! port_free "$port"; then
      say "port $port is in use"
      exit 1
    fi
  done
  for program in "$build/purchases" "$build/purchases-seed" "$build/purchases-migrate"; do
    if [[ ! -x $program ]]; then
      say "$program is missing (make release builds it)"
      exit 1
    fi
  done
  if ! command -v haproxy >/dev/null; then
    say "haproxy is not installed (make deps installs Debian's)"
    exit 1
  fi
  if supervisor_running; then
    say "already running in $dir (pid $(cat "$dir/supervisor.pid"))"
    exit 1
  fi
  rm -rf "$dir"/*.pid "$dir"/*.port "$dir"/*.replacing "$dir"/restart.lock "$dir"/haproxy.sock
  echo $$ >"$dir/supervisor.pid"
  echo "$n" >"$dir/instances"
  mkdir -p var/db var/log

  ferret_pid=""
  nats_pid=""
  redis_pid=""
  haproxy_pid=""
  tick_pid=""
  started_postgres=false
  pids=()
  stopping=false
  stop() {
    local code=$1
    trap - INT TERM EXIT
    stopping=true
    set +e
    # The balancer first (a soft stop: it stops accepting and finishes what
    # it has), then the instances (each drains), then what they used.
    if alive "$haproxy_pid"; then kill -USR1 "$haproxy_pid"; fi
    stop_pid "$haproxy_pid" 5
    for pid in "${pids[@]}"; do
      if alive "$pid"; then kill -TERM "$pid"; fi
    done
    for pid in "${pids[@]}"; do stop_pid "$pid" $((${PURCHASES_SHUTDOWN_TIMEOUT_S:-10} + 5)); done
    if [[ -n $tick_pid ]]; then kill "$tick_pid" 2>/dev/null; fi
    if [[ -n $redis_pid ]]; then
      if alive "$redis_pid"; then kill -TERM "$redis_pid"; fi
      stop_pid "$redis_pid" 5
    fi
    if [[ -n $nats_pid ]]; then
      if alive "$nats_pid"; then kill -TERM "$nats_pid"; fi
      stop_pid "$nats_pid" 5
    fi
    if alive "$ferret_pid"; then kill -TERM "$ferret_pid"; fi
    stop_pid "$ferret_pid" 10
    if $started_postgres; then scripts/postgres.sh stop run || true; fi
    rm -f "$dir"/*.pid "$dir"/*.replacing "$dir"/haproxy.sock
    rm -rf "$dir/restart.lock"
    say "stopped"
    exit "$code"
  }
  # Waits up to $2 seconds for $1 to exit, then SIGKILLs it.
  stop_pid() {
    local pid=$1 limit=$2 waited=0
    [[ -n $pid ]] || return 0
    while alive "$pid" && ((waited < limit * 10)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if alive "$pid"; then
      say "pid $pid did not stop in ${limit}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
  }
  trap 'stop 0' INT TERM
  trap 'stop $?' EXIT

  # The engine, exactly as scripts/run.sh starts it.
  if ! port_free "$ferret_port"; then
    say "port $ferret_port (FerretDB) is in use: is \`make run\` running? Set FERRETDB_PORT"
    exit 1
  fi
  # shellcheck source=scripts/engine.sh
  source scripts/engine.sh
  engine_start
  engine_seed
  engine_nats

  # One Redis for all instances.
  if [[ -z ${PURCHASES_REDIS_URL:-} ]]; then
    if [[ ${CLUSTER_OWN_REDIS:-0} != 1 ]] && redis_ping 127.0.0.1 6379; then
      PURCHASES_REDIS_URL=redis://127.0.0.1:6379
      say "Redis: the machine's, on 127.0.0.1:6379"
    else
      local redis_port=${CLUSTER_REDIS_PORT:-16379}
      while ! port_free "$redis_port"; do redis_port=$((redis_port + 1)); done
      redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no >var/log/cluster-redis.log 2>&1 &
      redis_pid=$!
      echo "$redis_pid" >"$dir/redis.pid"
      for _ in $(seq 50); do
        if redis_ping 127.0.0.1 "$redis_port"; then break; fi
        if ! alive "$redis_pid"; then
          say "Redis did not start; see var/log/cluster-redis.log"
          exit 1
        fi
        sleep 0.1
      done
      PURCHASES_REDIS_URL=redis://127.0.0.1:$redis_port
      say "Redis: started on 127.0.0.1:$redis_port (pid $redis_pid), log in var/log/cluster-redis.log"
    fi
  fi
  export PURCHASES_REDIS_URL
  # Cursors signed by one instance must verify on every other.
  if [[ -z ${PURCHASES_CURSOR_KEY:-} ]]; then
    PURCHASES_CURSOR_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  fi
  export PURCHASES_CURSOR_KEY
  # After SIGTERM from anywhere (not only `restart`), an instance says it
  # is not ready for a second while it still serves: HAProxy's checks (two
  # failures at 0.5 s) take it out before it stops accepting.
  export PURCHASES_DRAIN_DELAY_MS=${PURCHASES_DRAIN_DELAY_MS:-1000}

  # The instances. Their log lines go to our stdout, each prefixed with its
  # name, less the access lines of HAProxy's health checks that answered 200
  # (four a second per instance).
  start_instance() {
    local i=$1 name=purchases-$1 port=${ports[$1 - 1]}
    PURCHASES_PORT=$port PURCHASES_BIND_ADDRESS=127.0.0.1 "$build/purchases" \
      > >(trap "" INT; exec sed -u -e '/ route=\/readyz .*status=200 /d' -e "s/^/$name | /") 2>&1 &
    pids[i - 1]=$!
    started_at[i - 1]=$SECONDS
    echo "$port" >"$dir/$name.port"
    echo "${pids[i - 1]}" >"$dir/$name.pid.new"
    mv "$dir/$name.pid.new" "$dir/$name.pid"
  }
  started_at=()
  for ((i = 1; i <= n; i++)); do start_instance "$i"; done

  # HAProxy, from deploy/haproxy/purchases.cfg with one server line each.
  local servers=""
  for ((i = 1; i <= n; i++)); do
    servers+="    server purchases-$i 127.0.0.1:${ports[i - 1]}"$'\n'
  done
  awk -v servers="$servers" '/^[ \t]*# @SERVERS@/ { printf "%s", servers; next } { print }' \
    deploy/haproxy/purchases.cfg >"$dir/haproxy.cfg"
  export CLUSTER_DIR=$dir CLUSTER_BIND_ADDRESS=${CLUSTER_BIND_ADDRESS:-127.0.0.1}
  PURCHASES_PORT=$front_port haproxy -q -c -f "$dir/haproxy.cfg"
  PURCHASES_PORT=$front_port haproxy -db -f "$dir/haproxy.cfg" \
    > >(trap "" INT; exec sed -u "s/^/haproxy | /") 2>&1 &
  haproxy_pid=$!
  echo "$haproxy_pid" >"$dir/haproxy.pid"
  for _ in $(seq 100); do
    if [[ -S $dir/haproxy.sock ]] && ! port_free "$front_port"; then break; fi
    if ! alive "$haproxy_pid"; then
      say "HAProxy did not start"
      exit 1
    fi
    sleep 0.1
  done

  local deadline=$((SECONDS + 60))
  for ((i = 1; i <= n; i++)); do
    until readyz "${ports[i - 1]}"; do
      if ((SECONDS >= deadline)); then
        say "purchases-$i is not ready on port ${ports[i - 1]} after 60s"
        exit 1
      fi
      sleep 0.2
    done
  done
  say "$n instances (ports ${ports[*]}) behind HAProxy on http://$CLUSTER_BIND_ADDRESS:$front_port;" \
    "Redis ${PURCHASES_REDIS_URL}; state in $dir"

  # Supervision: every 0.5 s, an instance that is gone is started again (at
  # most once a second each, so one that cannot start does not spin).
  local pid code
  while :; do
    for ((i = 1; i <= n; i++)); do
      pid=${pids[i - 1]}
      if alive "$pid"; then continue; fi
      if ((SECONDS - started_at[i - 1] < 1)); then continue; fi
      code=0
      wait "$pid" 2>/dev/null || code=$?
      if [[ -e $dir/purchases-$i.replacing ]]; then
        say "purchases-$i (pid $pid) stopped for its replacement (exit $code); starting its successor"
      else
        say "purchases-$i (pid $pid) died (exit $code); starting it again"
      fi
      start_instance "$i"
    done
    if ! alive "$haproxy_pid"; then
      say "HAProxy (pid $haproxy_pid) exited; stopping"
      stop 1
    fi
    sleep 0.5 &
    tick_pid=$!
    wait "$tick_pid" || true
    tick_pid=""
  done
}

case $command in
  run) cmd_run ;;
  status) cmd_status ;;
  restart) cmd_restart ;;
  *)
    echo "usage: scripts/cluster.sh run|status|restart   (see docs/cluster.md)" >&2
    exit 2
    ;;
esac
