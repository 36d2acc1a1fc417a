#!/usr/bin/env bash
# The private PostgreSQL cluster that FerretDB stores purchases in when no
# FERRETDB_POSTGRESQL_URL is given. One cluster per checkout and purpose:
#
#   scripts/postgres.sh start [run|test|bench]   start it (initdb the first time);
#                                                 prints its base URL on stdout
#   scripts/postgres.sh stop  [run|test|bench]   stop it
#   scripts/postgres.sh status [run|test|bench]  exit 0 when it runs, 3 when not
#   scripts/postgres.sh url   [run|test|bench]   print its base URL
#   scripts/postgres.sh dir   [run|test|bench]   print its data folder
#
# The base URL has no database: append /NAME. Each purpose has its own port
# (PURCHASES_PG_PORT, default 15432 for run, 15433 for test, 15434 for bench)
# and data folder, so a test never touches the data of a running `make run`.
# The ports lie below Linux's ephemeral range (32768 and up), where an
# outgoing connection could hold them for a moment. When the default port
# is held by something else (another checkout's cluster, say: a clean clone
# testing beside a working copy), start takes the first free port from
# 15500 up instead and keeps it in the data folder, where url reads it.
#
# Where the data lives: PostgreSQL refuses to run as root, and root's home
# (where a checkout often is) cannot be entered by any other user. So:
#   - run as an ordinary user: var/postgresql/<purpose> in the checkout
#     (git-ignored), server run as that user;
#   - run as root: /var/lib/purchases/<checkout id>/postgresql/<purpose>,
#     owned by and run as the `postgres` user that Debian's package creates.
# PURCHASES_PG_DATA overrides the folder. The server listens on 127.0.0.1
# only, and on a Unix socket inside its own folder; trust authentication is
# allowed for those two and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:-}
purpose=${2:-run}
case $purpose in
  run) default_port=15432 ;;
  test) default_port=15433 ;;
  bench) default_port=15434 ;;
  *)
    echo "postgres: purpose must be run, test or bench, not '$purpose'" >&2
    exit 2
    ;;
esac
port=${PURCHASES_PG_PORT:-$default_port}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z $bindir || ! -x $bindir/pg_ctl ]]; then
  echo "postgres: PostgreSQL is not installed (make deps installs Debian's postgresql)" >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  checkout_id=$(pwd -P | sha256sum | cut -c1-12)
  data=${PURCHASES_PG_DATA:-/var/lib/purchases/$checkout_id/postgresql/$purpose}
  if [[ $data != /* ]]; then data=$PWD/$data; fi
  # From /, not from the checkout: PostgreSQL's programs go back to the
  # folder they were started in, and `postgres` cannot enter root's home
  # ('could not change directory to "/root/purchases": Permission denied').
  as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
  data=${PURCHASES_PG_DATA:-$PWD/var/postgresql/$purpose}
  as_owner() { "$@"; }
fi
port_file=$data/purchases-port
# The port a cluster started on a port of its own still runs on.
if [[ -z ${PURCHASES_PG_PORT:-} && -r $port_file ]]; then
  port=$(cat "$port_file")
fi
url="postgres://postgres@127.0.0.1:$port"
listening() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

running() {
  as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

init_cluster() {
  if [[ -f $data/PG_VERSION ]]; then
    return
  fi
  mkdir -p "$data"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$data"
    chmod 700 "$data"
  fi
  as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$data.initdb.log" 2>&1 || {
    cat "$data.initdb.log" >&2
    exit 1
  }
  rm -f "$data.initdb.log"
  # Loopback and the folder's own socket only; nothing else may connect.
  cat >"$data/pg_hba.conf" <<'HBA'
local all all                trust
host  all all 127.0.0.1/32   trust
host  all all ::1/128        trust
HBA
  cat >>"$data/postgresql.conf" <<CONF
# purchases: a private development cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 200
shared_buffers = 256MB
# Development data: a crash may lose the last second of writes, never the
# cluster. Production uses a managed database (docs/operations.md).
synchronous_commit = off
logging_collector = off
CONF
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$data/pg_hba.conf" "$data/postgresql.conf"
  fi
}

case $command in
  start)
    init_cluster
    if ! running; then
      port=${PURCHASES_PG_PORT:-$default_port}
      rm -f "$port_file"
      if [[ -z ${PURCHASES_PG_PORT:-} ]] && listening "$port"; then
        for candidate in $(seq 15500 15999); do
          if ! listening "$candidate"; then port=$candidate; break; fi
        done
        echo "$port" >"$port_file"
        echo "postgres: port $default_port is taken; the $purpose cluster uses $port" >&2
      fi
      url="postgres://postgres@127.0.0.1:$port"
      if ! as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $port" -w -t 60 \
        start >/dev/null; then
        tail -20 "$data/server.log" >&2 || true
        echo "postgres: could not start the $purpose cluster on port $port (data in $data)" >&2
        exit 1
      fi
      echo "postgres: started the $purpose cluster on 127.0.0.1:$port, data in $data" >&2
    fi
    echo "$url"
    ;;
  stop)
    if running; then
      as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      rm -f "$port_file"
      echo "postgres: stopped the $purpose cluster" >&2
    fi
    ;;
  status) running || exit 3 ;;
  url) echo "$url" ;;
  dir) echo "$data" ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|status|url|dir [run|test|bench]" >&2
    exit 2
    ;;
esac
