#!/usr/bin/env bash
# Installs what building, running and testing purchases needs, and nothing
# when it is all there already: Debian packages, then our FerretDB build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake pkg-config gcc make git clang-format
  libulfius-dev liborcania-dev libyder-dev libjansson-dev libmicrohttpd-dev
  libmongoc-dev libbson-dev libgnutls28-dev libcurl4-gnutls-dev check libsubunit-dev
  librhonabwy-dev libhiredis-dev zlib1g-dev redis-server haproxy socat wrk jq curl python3
  postgresql postgresql-client prometheus chromium
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FerretDB, embedded in our own small Go program (see tools/ferretdb/main.go).
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
FERRETDB=.tools/bin/ferretdb
if [[ ! -x $FERRETDB || tools/ferretdb/main.go -nt $FERRETDB || tools/ferretdb/go.sum -nt $FERRETDB ]]; then
  if [[ ! -x $GO ]]; then
    echo "deps: Go is needed to build FerretDB; install it at /usr/local/go or set GO=" >&2
    exit 1
  fi
  echo "deps: building FerretDB (tools/ferretdb) with $("$GO" version | cut -d' ' -f3)"
  mkdir -p .tools/bin
  (cd tools/ferretdb && GOFLAGS=-mod=readonly "$GO" build -trimpath -o ../../$FERRETDB .)
fi

# The /docs page's renderer (Redoc, compiled into the binary) and the
# OpenAPI linter, pinned by tools/docs/package-lock.json.
if [[ ! -f tools/docs/node_modules/redoc/bundles/redoc.standalone.js ||
  tools/docs/package-lock.json -nt tools/docs/node_modules/.package-lock.json ]]; then
  echo "deps: installing tools/docs from npm"
  if ! command -v npm >/dev/null; then
    # Machines that have Node.js from elsewhere keep it; others get Debian's.
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  (cd tools/docs && npm ci --no-audit --no-fund --loglevel=error)
fi
