// Converts a checkpoint directory to another weight format, tensor by
// tensor with bounded memory (one matrix in f32 at a time). Projections are
// converted; embeddings, heads, norms, the router and biases keep their
// stored precision, as the release does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace dsv32 {

class ThreadPool;

enum class QuantizeTarget { kInt4, kFp8, kBf16 };

struct QuantizeOptions {
  QuantizeTarget target = QuantizeTarget::kInt4;
  int64_t group = 32;          // int4: weights per scale (32 or 128)
  bool zero_point = false;     // int4: asymmetric groups
  size_t max_shard_bytes = size_t{4} << 30;
  ThreadPool* pool = nullptr;
  // Called after each tensor with (written, total, name).
  std::function<void(size_t, size_t, const std::string&)> progress;
};

Status QuantizeCheckpoint(const std::string& in_dir, const std::string& out_dir,
                          const QuantizeOptions& options);

}  // namespace dsv32
