#!/usr/bin/env bash
# CI's second half (after the README's test command): the test suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (with LeakSanitizer), bounded
# libFuzzer runs of the parser and of parse -> compile -> run, and the
# concurrency tests under ThreadSanitizer. Separate build directories.
# Usage: tools/ci_sanitize.sh [fuzz seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${1:-60}

need=()
for p in clang-19 libclang-rt-19-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
clang=(-DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE=RelWithDebInfo)

echo "== address + undefined sanitizers, and the fuzz targets"
cmake -S . -B build-asan "${clang[@]}" -DACTJIT_SANITIZE=address,undefined -DACTJIT_FUZZ=ON \
      -DACTJIT_SOAK_COUNT=1000 > /dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The install test builds an uninstrumented consumer; it runs in the main build.
ctest --test-dir build-asan --output-on-failure -j2 -E install_and_consume

echo "== fuzzing, ${fuzz_seconds} s per target"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 tests/fuzz/make_seeds.py "$seeds"
for target in fuzz_parse fuzz_compile; do
  mkdir -p "$seeds/work-$target"
  # Past crashes first (each must now pass), then a bounded run from the seeds.
  ./build-asan/$target tests/fuzz/regressions/* > /dev/null 2>&1 || ./build-asan/$target tests/fuzz/regressions/*
  ./build-asan/$target -max_total_time="$fuzz_seconds" -max_len=4096 -timeout=30 -rss_limit_mb=4096 \
      -print_final_stats=1 "$seeds/work-$target" "$seeds/corpus" 2>&1 | tail -n 12
done

echo "== thread sanitizer: the concurrency tests"
cmake -S . -B build-tsan "${clang[@]}" -DACTJIT_SANITIZE=thread > /dev/null
cmake --build build-tsan -j"$(nproc)" --target test_threads test_c_api test_cache
export TSAN_OPTIONS=halt_on_error=1:suppressions=$PWD/tests/sanitizers/tsan.supp
./build-tsan/tests/test_threads
./build-tsan/tests/test_c_api "the C ABI is safe from several threads"
./build-tsan/tests/test_cache "concurrent runtimes filling one cache directory"
echo "sanitizers and fuzzing: all ok"
