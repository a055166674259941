#!/usr/bin/env bash
# Installs what is missing, then: builds with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the whole suite under them; fuzzes the
# parsers of untrusted input (tokenizer, chat requests, model output) with
# libFuzzer for 30 seconds each; builds in Release and runs the whole suite
# with ctest, whose summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
scripts/install-deps.sh

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDSV32_SANITIZE=ON -DDSV32_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

fuzz_seconds="${DSV32_FUZZ_SECONDS:-30}"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV32_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDSV32_BUILD_BENCH=OFF
cmake --build build-fuzz -j"$jobs" --target tokenizer_fuzz chat_fuzz output_parser_fuzz
# fuzz NAME SEEDS [libFuzzer flags]: runs one harness, its log in build-fuzz/NAME.log.
fuzz() {
  local name="$1" seeds="$2"
  shift 2
  mkdir -p "build-fuzz/corpus/$name"
  if ! "build-fuzz/bin/${name}_fuzz" -max_total_time="$fuzz_seconds" "$@" \
      "build-fuzz/corpus/$name" "$seeds" > "build-fuzz/$name.log" 2>&1; then
    tail -n 60 "build-fuzz/$name.log"
    echo "fuzzing ${name}: failed (log: build-fuzz/$name.log)"
    return 1
  fi
  echo "fuzzing ${name}: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "build-fuzz/$name.log"), no findings"
}
# The three run side by side, each for its share of wall time.
fuzz tokenizer tests/fuzz/corpus/tokenizer -max_len=8192 &
tokenizer_job=$!
fuzz chat tests/chat/data/fuzz_seeds/chat -dict=tests/fuzz/chat.dict &
chat_job=$!
fuzz output_parser tests/chat/data/fuzz_seeds/output_parser -dict=tests/fuzz/chat.dict
wait "$tokenizer_job"
wait "$chat_job"

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
