// A deterministic random-weight checkpoint for any config, in the released
// format: what the demo and the benchmarks run when no trained weights are
// at hand. Its outputs are noise; its shapes, dtypes and names are real.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

enum class InitDType { kFp8, kBf16 };

struct RandomInitOptions {
  uint64_t seed = 0;
  InitDType dtype = InitDType::kFp8;
  size_t max_shard_bytes = size_t{4} << 30;
  // Called after each tensor with (written, total).
  std::function<void(size_t, size_t)> progress;
};

// Writes config.json (from `config_json`, with quantization_config set to
// match the dtype) and the weights to `out_dir`.
Status WriteRandomCheckpoint(const std::string& config_json, const std::string& out_dir,
                             const RandomInitOptions& options);

}  // namespace dsv32
