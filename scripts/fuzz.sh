#!/usr/bin/env bash
# make fuzz: builds the libFuzzer harnesses with clang, ASan and UBSan in
# build-fuzz/, then runs each for FUZZ_SECONDS (default 60). New inputs go to
# build-fuzz/corpus/<name>, crashes to build-fuzz/crashes/; tests/fuzz/corpus
# is only read. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
only=${1:-}
harnesses=(query cursor headers purchase jwt framing)

# clang and its libFuzzer runtime: needed here only, not by make test.
packages=(clang-14 libclang-rt-14-dev)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
  -DPURCHASES_SANITIZE=ON -DPURCHASES_FUZZ=ON >/dev/null
targets=()
for name in "${harnesses[@]}"; do targets+=("fuzz_$name"); done
cmake --build build-fuzz -j2 --target "${targets[@]}"

mkdir -p build-fuzz/crashes
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for name in "${harnesses[@]}"; do
  if [[ -n $only && $only != "$name" ]]; then continue; fi
  mkdir -p "build-fuzz/corpus/$name"
  echo "== fuzz_$name for ${seconds}s"
  # The first corpus folder receives what libFuzzer finds; the seeds are read.
  if ! "build-fuzz/tests/fuzz_$name" "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="build-fuzz/crashes/${name}-" -print_final_stats=1 2>"build-fuzz/$name.log"; then
    status=1
    echo "fuzz_$name FAILED: see build-fuzz/$name.log and build-fuzz/crashes/"
  fi
  grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)" \
    "build-fuzz/$name.log" || true
done
exit $status
