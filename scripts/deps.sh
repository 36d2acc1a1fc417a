#!/usr/bin/env bash
# Installs what building, running and testing purchases needs, and nothing
# when it is all there already: Debian packages, then our FerretDB build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake pkg-config gcc make git clang-format
  libulfius-dev liborcania-dev libyder-dev libjansson-dev libmicrohttpd-dev
  libmongoc-dev libbson-dev libgnutls28-dev libcurl4-gnutls-dev check libsubunit-dev
  librhonabwy-dev libhiredis-dev zlib1g-dev libnats-dev nats-server redis-server haproxy socat wrk
  jq curl python3 iproute2 procps
  postgresql postgresql-client prometheus chromium
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
missing=()
apt_updated=false
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  apt_updated=true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FerretDB, embedded in our own small Go program (see tools/ferretdb/main.go),
# built by a Go at least as new as tools/ferretdb/go.mod asks for: $GO when
# set; else the first new enough of `go` on PATH, /usr/local/go and the one
# this script brought into .tools/go before. When there is none (Debian
# bookworm's own Go is 1.19), Debian's golang-go fetches the official
# toolchain as a module from the Go module proxy, verified against the
# checksum database, as Go itself does when it switches toolchains.
# PURCHASES_OWN_GO=1 ignores every Go of the machine but Debian's golang-go
# and uses (or fetches) .tools/go: how the path of a bare machine is tried
# on a machine that has Go.
FERRETDB=.tools/bin/ferretdb
if [[ ! -x $FERRETDB || tools/ferretdb/main.go -nt $FERRETDB || tools/ferretdb/go.sum -nt $FERRETDB ]]; then
  tools=$PWD/.tools
  # What go.mod asks for: at least its `go` line; its `toolchain` line, when
  # there is one, names the release to fetch.
  go_need=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' tools/ferretdb/go.mod)
  go_want=$(sed -n 's/^toolchain go\([0-9][0-9.]*\)$/\1/p' tools/ferretdb/go.mod)
  if [[ -z $go_need ]]; then
    echo "deps: tools/ferretdb/go.mod has no go line" >&2
    exit 1
  fi
  # go_version GO: its version without the "go" (1.24.3), empty if it does not run.
  go_version() { GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p'; }
  new_enough() {
    local have
    have=$(go_version "$1")
    [[ -n $have && $(printf '%s\n' "$go_need" "$have" | sort -V | head -1) == "$go_need" ]]
  }
  # Our own Go keeps everything it downloads and builds under .tools (nothing
  # in the user's home: GOPATH, the module and build caches, Go's telemetry
  # folder), writable so that `rm -rf .tools` removes it, and takes modules
  # from the Go module proxy only (GOPROXY from the environment is honoured).
  own_go_env=(
    GOTOOLCHAIN=local GO111MODULE=on GOWORK=off GOFLAGS=-modcacherw
    GOPATH="$tools/gopath" GOMODCACHE="$tools/gopath/pkg/mod" GOCACHE="$tools/go-build"
    XDG_CONFIG_HOME="$tools/config" GOPROXY="${GOPROXY:-https://proxy.golang.org}"
  )
  build_env=(GOTOOLCHAIN=local GOFLAGS=-mod=readonly)
  if [[ -n ${GO:-} ]]; then
    if ! new_enough "$GO"; then
      echo "deps: GO=$GO is not Go $go_need or newer (tools/ferretdb/go.mod)" >&2
      exit 1
    fi
  else
    candidates=("$tools/go/bin/go")
    if [[ ${PURCHASES_OWN_GO:-0} != 1 ]]; then
      candidates=("$(command -v go || true)" /usr/local/go/bin/go "$tools/go/bin/go")
    fi
    for candidate in "${candidates[@]}"; do
      if [[ -n $candidate && -x $candidate ]] && new_enough "$candidate"; then
        GO=$candidate
        break
      fi
    done
  fi
  if [[ -z ${GO:-} ]]; then
    # Any Go can fetch a module; Debian's when the machine has none at all.
    bootstrap=""
    candidates=(/usr/bin/go)
    if [[ ${PURCHASES_OWN_GO:-0} != 1 ]]; then
      candidates=("$(command -v go || true)" /usr/local/go/bin/go /usr/bin/go)
    fi
    for candidate in "${candidates[@]}"; do
      if [[ -n $candidate && -x $candidate && -n $(go_version "$candidate") ]]; then
        bootstrap=$candidate
        break
      fi
    done
    case $(dpkg --print-architecture 2>/dev/null || uname -m) in
      amd64 | x86_64) go_arch=amd64 ;;
      arm64 | aarch64) go_arch=arm64 ;;
      armhf | armel | armv6l | armv7l) go_arch=armv6l ;;
      i386 | i686) go_arch=386 ;;
      ppc64el | ppc64le) go_arch=ppc64le ;;
      s390x) go_arch=s390x ;;
      riscv64) go_arch=riscv64 ;;
      mips64el) go_arch=mips64le ;;
      loong64 | loongarch64) go_arch=loong64 ;;
      *)
        echo "deps: no official Go toolchain for this machine ($(uname -m)); set GO=" >&2
        exit 1
        ;;
    esac
    fetcher=${bootstrap:-"Debian's golang-go"}
    echo "deps: no Go $go_need or newer here; fetching the official toolchain into .tools/go" \
      "from the Go module proxy with $fetcher"
    if [[ -z $bootstrap ]]; then
      if ! $apt_updated; then $SUDO apt-get update -qq; fi
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
      bootstrap=/usr/bin/go
    fi
    mkdir -p "$tools"
    # Outside any module, so that no go.mod steers the bootstrap Go.
    cd "$tools"
    if [[ -n $go_want ]]; then
      release=$go_want
    elif [[ $go_need =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
      release=$go_need
    else
      # A go line without a patch (1.24): the newest patch of that release,
      # as `go get go@1.24` would choose.
      patch=$(env "${own_go_env[@]}" "$bootstrap" list -m -versions golang.org/toolchain | tr ' ' '\n' |
        awk -v p="v0.0.1-go$go_need." -v s=".linux-$go_arch" 'index($0, p) == 1 &&
          substr($0, length($0) - length(s) + 1) == s {
            n = substr($0, length(p) + 1, length($0) - length(p) - length(s)); if (n ~ /^[0-9]+$/) print n }' |
        sort -n | tail -1)
      release=${patch:+$go_need.$patch}
      if [[ -z $release ]]; then
        echo "deps: the Go module proxy lists no go$go_need.N toolchain for linux-$go_arch" >&2
        exit 1
      fi
    fi
    module=golang.org/toolchain@v0.0.1-go$release.linux-$go_arch
    dir=$(env "${own_go_env[@]}" "$bootstrap" mod download -json "$module" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    cd - >/dev/null
    if [[ -z $dir || ! -f $dir/bin/go ]]; then
      echo "deps: could not fetch $module from the Go module proxy" >&2
      exit 1
    fi
    # The module cache keeps no execute bits; Go sets them on a toolchain it
    # switches to, and so do we.
    chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
    ln -sfn "$dir" "$tools/go"
    GO=$tools/go/bin/go
  fi
  if [[ $GO == "$tools/go/bin/go" ]]; then
    build_env=("${own_go_env[@]}" GOFLAGS="-mod=readonly -modcacherw")
  fi
  echo "deps: building FerretDB (tools/ferretdb) with go$(go_version "$GO")"
  mkdir -p .tools/bin
  (cd tools/ferretdb && env "${build_env[@]}" "$GO" build -trimpath -o ../../$FERRETDB .)
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
