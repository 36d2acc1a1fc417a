#!/usr/bin/env bash
# The command lines of the three programs, as an operator meets them: -h and
# -V as short forms of --help and --version, an unknown option named, a bad
# value named, and the exit statuses their man pages promise.
# Usage: tests/scripts/cli.sh [PG_BASE_URL, unused]   (prints "cli: N passed, N failed")
set -uo pipefail
cd "$(dirname "$0")/../.."
suite=cli
build=${BUILD_DIR:-build}
# shellcheck source=tests/scripts/lib.sh
source tests/scripts/lib.sh

out=$(mktemp)
err=$(mktemp)
# exits WANT PROGRAM ARGS...: runs the program, true when it exits WANT.
exits() {
  local want=$1
  shift
  "$@" >"$out" 2>"$err"
  test $? -eq "$want"
}
says() { grep -q -- "$2" "$1"; }
not_says() { ! grep -q -- "$2" "$1"; }

for program in purchases purchases-seed purchases-import purchases-migrate purchases-events; do
  binary=$build/$program
  for flag in -h --help; do
    check "$program $flag exits 0" exits 0 "$binary" "$flag"
    check "$program $flag prints the usage on stdout" says "$out" "Usage"
  done
  for flag in -V --version; do
    check "$program $flag exits 0" exits 0 "$binary" "$flag"
    check "$program $flag names itself and its commit" \
      grep -Eq "^$program [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{7,}(-dirty)?|unknown)\)" "$out"
  done
  check "$program --bogus exits 2" exits 2 "$binary" --bogus
  check "$program --bogus names the option" says "$err" "bogus"
  check "$program with a control byte in an option exits 2" exits 2 "$binary" $'--bogus\x1b[31m'
  check "$program writes that byte escaped" says "$err" '--bogus\\x1b\[31m'
  check "$program writes no control byte to the terminal" not_says "$err" $'\x1b'
done
check "purchases-seed escapes a bad value" exits 2 "$build/purchases-seed" --users $'x\x1b[31m'
check "purchases-seed writes no control byte of it" not_says "$err" $'\x1b'
check "purchases-seed --users x exits 2" exits 2 "$build/purchases-seed" --users x
check "purchases-seed --users x names the option and the value" says "$err" "users: x"
check "purchases-import without a file exits 2" exits 2 "$build/purchases-import"
check "purchases-events without tail exits 2" exits 2 "$build/purchases-events"
check "purchases-events tail --since x exits 2" exits 2 "$build/purchases-events" tail --since x
check "purchases-migrate --batch 0 exits 2" exits 2 "$build/purchases-migrate" --batch 0
check "purchases-migrate with an argument exits 2" exits 2 "$build/purchases-migrate" extra
check "purchases-migrate --shard-keys exits 0" exits 0 "$build/purchases-migrate" --shard-keys
check "purchases-migrate --shard-keys names each collection's key" \
  grep -q '"collection" : "purchase_history", "key" : { "userId" : "hashed" }' "$out"

rm -f "$out" "$err"
report
((failed == 0))
