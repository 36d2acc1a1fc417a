#!/usr/bin/env bash
# The benchmark peer of issue 13 (bench/peers/node-fastify: Node.js, Fastify 5,
# the official mongodb driver), for make bench.
#
#   scripts/peer.sh install                  npm ci from the pinned package-lock.json, when
#                                            node_modules is missing or older than the lock
#   scripts/peer.sh start PORT MONGODB_URI   the peer in the foreground on 127.0.0.1:PORT
#                                            (exec: background it and stop it with SIGTERM)
set -euo pipefail
cd "$(dirname "$0")/../bench/peers/node-fastify"

need() {
  if ! command -v "$1" >/dev/null; then
    echo "peer: $1 is not installed; the benchmark peer needs Node.js 20 or later and npm" \
      "(Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
}

case ${1:-} in
  install)
    need node
    need npm
    if [[ ! -d node_modules || node_modules -ot package-lock.json ]]; then
      echo "peer: installing bench/peers/node-fastify from npm" >&2
      npm ci --no-audit --no-fund --loglevel=error
      touch node_modules
    fi
    ;;
  start)
    if [[ $# -ne 3 ]]; then
      echo "usage: scripts/peer.sh start PORT MONGODB_URI" >&2
      exit 2
    fi
    need node
    if [[ ! -d node_modules ]]; then
      echo "peer: bench/peers/node-fastify is not installed: run scripts/peer.sh install" >&2
      exit 1
    fi
    PORT=$2 MONGODB_URI=$3 HOST=127.0.0.1 exec node server.js
    ;;
  *)
    echo "usage: scripts/peer.sh install | start PORT MONGODB_URI" >&2
    exit 2
    ;;
esac
