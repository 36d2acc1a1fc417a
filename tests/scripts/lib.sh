# Sourced by the script-level tests: `check WHAT COMMAND...` counts a pass
# or prints "<$suite>: FAILED: WHAT"; `report` prints the last line that
# scripts/test.sh reads ("<$suite>: N passed, N failed"); `free_port`.
passed=0
failed=0

check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "$suite: FAILED: $what"
    failed=$((failed + 1))
  fi
}

report() {
  echo "$suite: $passed passed, $failed failed"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
