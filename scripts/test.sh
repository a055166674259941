#!/usr/bin/env bash
# Installs what is missing, builds in Release and runs the whole test suite
# with ctest, then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the suite under them, and fuzzes the
# input parsers for a minute each.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"
scripts/install-deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDSV32_SANITIZE=ON -DDSV32_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

# Fuzz the parsers of untrusted input for a bounded time (libFuzzer, clang,
# with ASan and UBSan): the tokenizer, chat requests, model output.
fuzz_seconds="${DSV32_FUZZ_SECONDS:-60}"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSV32_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDSV32_BUILD_BENCH=OFF -DDSV32_BUILD_TESTS=ON
cmake --build build-fuzz -j"$jobs" --target tokenizer_fuzz chat_fuzz output_parser_fuzz
mkdir -p build-fuzz/corpus/tokenizer build-fuzz/corpus/chat build-fuzz/corpus/output_parser
build-fuzz/bin/tokenizer_fuzz -max_total_time="$fuzz_seconds" -max_len=8192 \
  build-fuzz/corpus/tokenizer tests/fuzz/corpus/tokenizer
build-fuzz/bin/chat_fuzz -max_total_time="$fuzz_seconds" -dict=tests/fuzz/chat.dict \
  build-fuzz/corpus/chat tests/chat/data/fuzz_seeds/chat
build-fuzz/bin/output_parser_fuzz -max_total_time="$fuzz_seconds" -dict=tests/fuzz/chat.dict \
  build-fuzz/corpus/output_parser tests/chat/data/fuzz_seeds/output_parser
echo "fuzzing: 3 harnesses, ${fuzz_seconds} s each, no findings"
