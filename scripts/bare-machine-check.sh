#!/usr/bin/env bash
# Proves the README's two commands on a bare machine, before a release: a
# minimal Debian bookworm (git, make, sudo and CA certificates, nothing else)
# in a chroot under .bare/ (git-ignored), a clone of this checkout's HEAD in
# its /root/purchases, then, as root in there:
#
#   1. `make run`, whose first step (`make deps`: Debian packages, Go,
#      FerretDB, npm) runs with the network, and the rest in a network
#      namespace of its own, where its ports cannot meet the host's (this
#      machine may run PostgreSQL, Redis, ... on theirs); checks the
#      README's first curl and /docs, then stops it with SIGINT to its
#      process group, as Ctrl-C does, and checks that it stopped cleanly;
#   2. `make test`, in a network namespace of its own too.
#
# It prints the time to the first answer (from `make run` to the README's
# curl answering) and the time of `make test`. Downloads about 800 MB from
# Debian's archive (the mirror this machine's apt uses), the Go module proxy
# and the npm registry, fills about 5.5 GB of .bare/, and takes about 10
# minutes on 2 cores: not part of `make test`. Needs root, debootstrap (installed when missing), unshare,
# nsenter, ip, curl and python3 on this machine.
#
#   scripts/bare-machine-check.sh            reuses the debootstrapped base in
#                                            .bare/base when there is one
#   BARE_FRESH=1 scripts/bare-machine-check.sh   debootstraps afresh
#   BARE_MIRROR=URL                          another Debian mirror
#
# Logs: .bare/log/{debootstrap,deps,run,test}.log. Exit status 0 when every
# check passed. Only committed work is checked: the clone is of HEAD.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd -P)

say() { echo "bare-machine: $*"; }
if [[ $(id -u) -ne 0 ]]; then
  say "needs root (debootstrap, chroot, mounts, network namespaces)"
  exit 2
fi
for tool in unshare nsenter ip curl python3 git; do
  if ! command -v "$tool" >/dev/null; then
    say "needs $tool on this machine"
    exit 2
  fi
done

script_started=$SECONDS
bare=$checkout/.bare
base=$bare/base
root=$bare/root
logs=$bare/log
inside=/root/purchases
mkdir -p "$logs"

# Debian's archive as this machine's apt reaches it: the entries of its
# sources for bookworm and its updates and security suites, as one-line
# entries (deb822 .sources and one-line .list files alike).
host_sources() {
  local files=()
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [[ -r $file ]]; then files+=("$file"); fi
  done
  ((${#files[@]} > 0)) || return 0
  awk '
    FNR == 1 { flush() }
    function emit(uri, suite, components) {
      if (suite ~ /^bookworm(-updates|-security)?$/) print "deb " uri " " suite " " components
    }
    FILENAME ~ /\.sources$/ {
      # deb822: paragraphs of "Field: value" lines.
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($0 ~ /^#/) next
      field = $1; sub(/:$/, "", field); $1 = ""; sub(/^[ \t]+/, "")
      value[field] = $0
      next
    }
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      uri = $i; suite = $(i + 1); components = ""
      for (j = i + 2; j <= NF; j++) components = components (components == "" ? "" : " ") $j
      emit(uri, suite, components)
    }
    function flush(  n, uris, suites, a, b) {
      if (value["Types"] ~ /(^| )deb( |$)/ && value["URIs"] != "") {
        n = split(value["Suites"], suites, " ")
        split(value["URIs"], uris, " ")
        for (a = 1; a <= n; a++) emit(uris[1], suites[a], value["Components"])
      }
      delete value
    }
    END { flush() }
  ' "${files[@]}"
}
sources=$(host_sources)
mirror=${BARE_MIRROR:-$(awk '$3 == "bookworm" {print $2; exit}' <<<"$sources")}
if [[ -z $mirror ]]; then
  say "no bookworm entry in this machine's apt sources; set BARE_MIRROR"
  exit 2
fi
if [[ -z $sources ]]; then sources="deb $mirror bookworm main"; fi

# Everything mounted in the root, and any process left running in it, is
# gone when this script ends, however it ends.
mounted() {
  local point
  while read -r _ point _; do
    if [[ $point == "$root" || $point == "$root"/* ]]; then echo "$point"; fi
  done </proc/mounts | sort -r
}
kill_inside() {
  local proc pid
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    if [[ $(readlink "$proc/root" 2>/dev/null) == "$root" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}
cleanup() {
  local point
  kill_inside
  sleep 0.5
  while read -r point; do
    if [[ -n $point ]]; then umount "$point" 2>/dev/null || umount -l "$point" 2>/dev/null || true; fi
  done < <(mounted)
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The base system, once: debootstrap's minbase plus the four packages a bare
# machine has here. BARE_FRESH=1 makes it again.
if [[ ${BARE_FRESH:-0} == 1 || ! -e $base/.complete ]]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  rm -rf --one-file-system "$base"
  say "debootstrap bookworm from $mirror into .bare/base (log in .bare/log/debootstrap.log)"
  debootstrap --variant=minbase --include=git,make,sudo,ca-certificates bookworm "$base" "$mirror" \
    >"$logs/debootstrap.log" 2>&1 || {
    tail -20 "$logs/debootstrap.log"
    say "debootstrap failed"
    exit 1
  }
  touch "$base/.complete"
fi

# A fresh copy of it for this run. Nothing may be mounted in the old one
# when it is removed (a bind of /dev would take the host's with it).
cleanup
if [[ -n $(mounted) ]]; then
  say "something is still mounted under $root; not removing it"
  exit 1
fi
rm -rf --one-file-system "$root"
cp -a "$base" "$root"
rm -f "$root/.complete"
printf '%s\n' "$sources" >"$root/etc/apt/sources.list"
rm -f "$root"/etc/apt/sources.list.d/*
# Inside a root made by debootstrap, TLS (the Go module proxy, the npm
# registry) is trusted the way this machine trusts it only with this
# machine's bundle: a proxy that inspects TLS here has its certificate in
# it, and the root's own bundle would refuse it.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [[ ! -s $root/etc/hosts ]]; then printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"; fi
# As in Debian's container images: packages do not start their daemons. On
# a real machine they would start on their usual ports (PostgreSQL's 5432,
# Redis's 6379), where the host's own run in this network; the project
# starts its own on ports of its own.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"

git clone -q --no-checkout "$checkout" "$root$inside"
git -C "$root$inside" checkout -q -B bare-machine-check "$(git rev-parse HEAD)"
say "cloned $(git rev-parse --short HEAD) into $inside"

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"

# in_root COMMAND: a login shell's command as root in the checkout inside,
# with the network of this machine.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $inside && $1"
}
# isolated COMMAND: the same in a network namespace of its own with only a
# loopback, and SIGINT at its default (as in a terminal), in a process group
# of its own. Started with `&`, $! is that group's id and a process in that
# namespace: the function's subshell becomes setsid, then the rest, by exec.
isolated() {
  # shellcheck disable=SC2016 # $1 to $3 are the inner shell's arguments
  exec setsid unshare --net -- env --default-signal=INT /bin/sh -c \
    'ip link set lo up && exec chroot "$1" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
       PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
       /bin/bash -c "cd $2 && $3"' _ "$root" "$inside" "$1"
}
alive() { kill -0 "$1" 2>/dev/null; }

failures=0
fail() {
  say "FAILED: $*"
  failures=$((failures + 1))
}
started=$SECONDS

# --- make run: what it installs, with the network (make deps is its first step)
say "make run, part 1: make deps, with the network (log in .bare/log/deps.log)"
if ! in_root 'make deps' >"$logs/deps.log" 2>&1; then
  tail -30 "$logs/deps.log"
  fail "make deps"
  exit 1
fi
deps_s=$((SECONDS - started))
say "make deps took ${deps_s}s"

# --- make run: the rest, in a network namespace of its own
say "make run, part 2: in a network namespace of its own (log in .bare/log/run.log)"
isolated 'exec make run' >"$logs/run.log" 2>&1 &
run_pid=$!
readme_curl=$(grep -m1 '^curl ' "$root$inside/README.md")
in_net() { nsenter --target "$run_pid" --net "$@"; }
answer=""
deadline=$((SECONDS + 1800))
while ((SECONDS < deadline)) && alive "$run_pid"; do
  # Ready first: the README's curl shows the body of any answer, a 503 too.
  if in_net curl -fs -o /dev/null localhost:8080/readyz 2>/dev/null; then
    answer=$(in_net /bin/sh -c "$readme_curl" 2>/dev/null || true)
    break
  fi
  sleep 1
done
first_answer_s=$((SECONDS - started))
if [[ -z $answer ]]; then
  tail -30 "$logs/run.log"
  fail "no answer to the README's curl ($readme_curl)"
else
  say "first answer after ${first_answer_s}s (make deps ${deps_s}s, then build and start)"
  if python3 -c 'import json, sys
body = json.loads(sys.argv[1])
assert body["data"] and all(p["userId"] == "123" for p in body["data"]), body
assert body["page"]["limit"] == 20' "$answer" 2>/dev/null; then
    say "the README's curl answers user 123's purchases"
  else
    fail "the README's curl answered: ${answer:0:300}"
  fi
  docs=$(in_net curl -s -w '\n%{http_code}' localhost:8080/docs || true)
  if [[ ${docs##*$'\n'} == 200 && $docs == *redoc* ]]; then
    say "/docs answers 200 with the Redoc page"
  else
    fail "/docs answered ${docs##*$'\n'}"
  fi
fi
# Ctrl-C: SIGINT to the foreground process group.
kill -INT -- "-$run_pid" 2>/dev/null || true
for _ in $(seq 600); do
  alive "$run_pid" || break
  sleep 0.1
done
if alive "$run_pid"; then
  fail "make run still runs 60 s after SIGINT"
  kill -KILL -- "-$run_pid" 2>/dev/null || true
fi
wait "$run_pid" 2>/dev/null || true
left=$(for proc in /proc/[0-9]*; do
  if [[ $(readlink "$proc/root" 2>/dev/null) == "$root" ]]; then tr '\0' ' ' <"$proc/cmdline"; echo; fi
done)
if [[ -n $left ]]; then fail "left running after SIGINT: $left"; fi
if ! grep -q '^run: stopped' "$logs/run.log"; then fail "make run did not say 'run: stopped'"; fi
if grep -q 'Permission denied' "$logs/run.log"; then
  fail "make run said: $(grep -m1 'Permission denied' "$logs/run.log")"
fi
if [[ -z $left ]] && grep -q '^run: stopped' "$logs/run.log"; then say "make run stopped cleanly after SIGINT"; fi

# --- make test, in a network namespace of its own
say "make test, in a network namespace of its own (log in .bare/log/test.log)"
test_started=$SECONDS
isolated 'exec make test' >"$logs/test.log" 2>&1 &
test_pid=$!
test_code=0
wait "$test_pid" || test_code=$?
test_s=$((SECONDS - test_started))
summary=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$logs/test.log" | tail -1 || true)
if ((test_code != 0)) || [[ $summary != *" 0 failed" ]]; then
  # Its failed checks and its last line, or the end of what it said.
  if grep -q '^== failed checks' "$logs/test.log"; then
    sed -n '/^== failed checks/,/^tests: /p' "$logs/test.log" | head -40
  else
    tail -20 "$logs/test.log"
  fi
  fail "make test (exit $test_code): ${summary:-no summary}"
else
  say "make test: $summary"
fi

say "time to first answer: ${first_answer_s}s (make deps ${deps_s}s);" \
  "make test: ${test_s}s; both: $((SECONDS - started))s; with the base system and the clone:" \
  "$((SECONDS - script_started))s"
if ((failures > 0)); then
  say "$failures check(s) failed; logs in .bare/log"
  exit 1
fi
say "passed: the two commands work on a bare Debian bookworm"
