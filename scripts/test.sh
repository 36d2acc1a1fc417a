#!/usr/bin/env bash
# Runs the Check suites under AddressSanitizer and UndefinedBehaviorSanitizer
# and ends with one line: "tests: N passed, N failed".
# Usage: scripts/test.sh BUILD_DIR [unit|integration|fuzz|contract]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
only=${2:-}

# Leaks fail the run; any undefined behaviour stops the process.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CK_VERBOSITY=${CK_VERBOSITY:-normal}

# The default engine: FerretDB on PostgreSQL. Each integration test creates
# a database of its own on this server and drops it when done; the server is
# FERRETDB_POSTGRESQL_URL's when given, else a private cluster just for tests
# (never the one of `make run`), started here and stopped at the end.
# FERRETDB_HANDLER=sqlite runs the suite on FerretDB's SQLite handler.
started_postgres=false
if [[ ${FERRETDB_HANDLER:-postgresql} == postgresql && (-z $only || $only == integration) ]]; then
  if [[ -n ${FERRETDB_POSTGRESQL_URL:-} ]]; then
    rest=${FERRETDB_POSTGRESQL_URL#*://}
    PURCHASES_TEST_PG_URL=${FERRETDB_POSTGRESQL_URL%%://*}://${rest%%/*}
  else
    if ! scripts/postgres.sh status test; then started_postgres=true; fi
    PURCHASES_TEST_PG_URL=$(scripts/postgres.sh start test) || exit 1
  fi
  export PURCHASES_TEST_PG_URL
  echo "== engine: FerretDB on PostgreSQL at $PURCHASES_TEST_PG_URL"
elif [[ -z $only || $only == integration ]]; then
  echo "== engine: FerretDB on SQLite"
fi
stop_postgres() {
  if $started_postgres; then scripts/postgres.sh stop test; fi
}
trap stop_postgres EXIT

# Every file the tests make goes into one folder of this run, removed when
# the run is green and kept (and named) when it is not.
PURCHASES_TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/purchases-tests.XXXXXX")
export PURCHASES_TEST_TMP

# Every process the integration suites start records here the commands a
# sharded cluster could not target (models/shard_check.h); read at the end.
export PURCHASES_SHARD_CHECK_FILE=$PURCHASES_TEST_TMP/shard-check.log

passed=0
failed=0
status=0
# Every failing check's line (Check marks a failed test F, an error E, a
# failed checked fixture S), said again just before the summary: a CI
# page that shows only the end of the output still names them.
failures_seen=$PURCHASES_TEST_TMP/failures
: >"$failures_seen"
# check_run NAME COMMAND...: runs a Check binary and adds its summary.
check_run() {
  local name=$1 output code summary checks failures errors
  shift
  output=$("$@" 2>&1)
  code=$?
  echo "$output"
  grep -E ':[FES]:' <<<"$output" | sed "s/^/$name: /" >>"$failures_seen"
  summary=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' <<<"$output" | tail -1)
  if [[ -z $summary ]]; then
    echo "$name: no Check summary (exit $code)" | tee -a "$failures_seen"
    failed=$((failed + 1))
    status=1
    return
  fi
  read -r checks failures errors < <(sed -E 's/Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)/\1 \2 \3/' <<<"$summary")
  passed=$((passed + checks - failures - errors))
  failed=$((failed + failures + errors))
  if ((code != 0)); then status=1; fi
}
for suite in unit integration; do
  if [[ -n $only && $only != "$suite" ]]; then continue; fi
  binary=$build/tests/${suite}_tests
  echo "== $suite ($binary)"
  check_run "$suite" "$binary"
done
# The other serving model: every suite again with a thread per connection
# (PURCHASES_WORKERS=0) instead of the default, one epoll worker a CPU (a test
# that chose its model itself keeps it).
if [[ -z $only || $only == integration ]]; then
  suites=$(sed -n 's/^Suite \*suite_\([a-z_]*\)(void);$/\1/p' tests/integration/suites.h)
  if [[ -z $suites ]]; then
    echo "tests/integration/suites.h names no suite: the second pass would test nothing"
    failed=$((failed + 1))
    status=1
  fi
  for suite in $suites; do
    echo "== integration, suite $suite, PURCHASES_WORKERS=0 (a thread per connection)"
    check_run "$suite (thread per connection)" env PURCHASES_TEST_WORKERS=0 CK_RUN_SUITE="$suite" \
      "$build/tests/integration_tests"
  done
fi
# The fuzz corpus, replayed through each harness under the same sanitizers:
# every input that ever found a bug stays a regression test.
if [[ -z $only || $only == fuzz ]]; then
  echo "== fuzz corpus (tests/fuzz/corpus)"
  for corpus in tests/fuzz/corpus/*/; do
    name=$(basename "$corpus")
    output=$("$build/tests/fuzz_replay_$name" "$corpus" 2>&1)
    code=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$output" | tail -1)
    if ((code != 0)) || [[ -z $line ]]; then
      echo "$output" | tail -40
      echo "fuzz $name: FAILED (exit $code)" | tee -a "$failures_seen"
      failed=$((failed + 1))
      status=1
      continue
    fi
    echo "fuzz $name: $line"
    passed=$((passed + $(cut -d' ' -f1 <<<"$line")))
  done
fi
# A script-level test: runs `script` on the test cluster's PostgreSQL and
# counts its last line, "<name>: N passed, N failed".
script_test() {
  local name=$1 script=$2
  local output code line
  echo "== $name ($script)"
  output=$("$script" "$PURCHASES_TEST_PG_URL" 2>&1)
  code=$?
  echo "$output" | grep -v "^$name: [0-9]* passed" || true
  grep -F "$name: FAILED" <<<"$output" >>"$failures_seen"
  line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed\$" <<<"$output" | tail -1)
  echo "$line"
  passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"${line:-x: 0 passed}")))
  if ((code != 0)) || [[ -z $line ]]; then
    echo "$name: exit $code" >>"$failures_seen"
    failed=$((failed + 1))
    status=1
  fi
}
# The shard keys: no command of any process the suites started may miss its
# collection's shard key, and the check must have seen the commands.
if [[ -z $only || $only == integration ]]; then
  echo "== shard keys (every command of the integration suites)"
  checked=$(awk '/^checked / {sum += $3} END {print sum + 0}' "$PURCHASES_SHARD_CHECK_FILE" 2>/dev/null || echo 0)
  violations=$(grep -c '^violation' "$PURCHASES_SHARD_CHECK_FILE" 2>/dev/null || true)
  if ((checked == 0)); then
    echo "shard keys: FAILED: the check saw no command" | tee -a "$failures_seen"
    failed=$((failed + 1))
    status=1
  elif ((${violations:-0} > 0)); then
    grep '^violation' "$PURCHASES_SHARD_CHECK_FILE" | cut -c1-600 | sort | uniq -c | sort -rn | head -20
    echo "shard keys: FAILED: $violations commands without their shard key" | tee -a "$failures_seen"
    failed=$((failed + 1))
    status=1
  else
    echo "shard keys: $checked commands checked, every one targeted"
    passed=$((passed + 1))
  fi
  # Each named exception must still be needed by some command of the run.
  exceptions=$(sed -n 's/^allowed [0-9]* of \([0-9]*\):.*/\1/p' "$PURCHASES_SHARD_CHECK_FILE" 2>/dev/null | head -1)
  used=$(sed -n 's/^allowed \([0-9]*\) of .*/\1/p' "$PURCHASES_SHARD_CHECK_FILE" 2>/dev/null | sort -u | wc -l)
  if [[ -n $exceptions ]] && ((used < exceptions)); then
    echo "shard keys: FAILED: only $used of the $exceptions exceptions of models/shard_check.c were used: remove the others" |
      tee -a "$failures_seen"
    failed=$((failed + 1))
    status=1
  fi
fi
# The command lines of the five programs.
if [[ -z $only || $only == integration ]]; then
  BUILD_DIR=$build script_test cli tests/scripts/cli.sh
fi
# What `make run` serves (the optimised build, on loopback), and `make
# cluster` (three of it behind HAProxy, supervised), each on a database of
# the test cluster.
if [[ (-z $only || $only == integration) && -n ${PURCHASES_TEST_PG_URL:-} ]]; then
  script_test "make run" tests/scripts/make_run.sh
  script_test cluster tests/scripts/cluster.sh
fi
# The OpenAPI document, through a real OpenAPI validator. (That the running
# server keeps to it is the contract suite of the integration tests.)
if [[ -z $only || $only == contract ]]; then
  echo "== contract (api/openapi.json)"
  # No telemetry or update checks: nothing leaves this machine.
  if output=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true tools/docs/node_modules/.bin/redocly lint --format=stylish api/openapi.json 2>&1); then
    echo "redocly lint: valid"
    passed=$((passed + 1))
  else
    echo "$output" | tail -40
    echo "redocly lint: FAILED" | tee -a "$failures_seen"
    failed=$((failed + 1))
    status=1
  fi
fi
# lint COMMAND...: a check that prints its own lines; one pass or one failure.
lint() {
  local output
  if output=$("$@" 2>&1); then
    echo "$output"
    passed=$((passed + 1))
  else
    echo "$output"
    echo "$*: FAILED" >>"$failures_seen"
    failed=$((failed + 1))
    status=1
  fi
}
if [[ -z $only || $only == contract ]]; then
  # The layers: no include points upwards but the known ones.
  lint scripts/lint-layers.sh "$build"
  # The deployment files no engine runs here: parsed and checked for what
  # docs/operations.md promises.
  PURCHASES_MIGRATE_BIN=$build/purchases-migrate lint node scripts/lint-deploy.js
fi
if [[ -s $failures_seen ]]; then
  echo "== failed checks"
  cut -c1-400 "$failures_seen"
fi
echo "tests: $passed passed, $failed failed"
if ((failed > 0)); then status=1; fi
if ((status == 0)); then
  rm -rf "$PURCHASES_TEST_TMP"
else
  echo "tests: their logs and files are kept in $PURCHASES_TEST_TMP"
fi
exit $status
