#!/usr/bin/env bash
# The main job: install what is missing, build in Release, and run the
# embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDSV32_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target dsv32_cli
build/bin/dsv32 demo --out build/demo-model "$@"
