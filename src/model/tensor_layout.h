// Every tensor a DeepSeek-V3-family checkpoint holds for a given config, by
// its released name, with the role that decides its stored dtype: the
// release keeps projections in FP8 and everything else in BF16 (the router's
// correction bias in F32).
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/tensor.h"

namespace dsv32 {

enum class TensorRole {
  kProjection,      // a linear layer's weight, FP8 in the release
  kHighPrecision,   // embeddings, heads, router and indexer weights: BF16
  kNorm,            // an RMSNorm / LayerNorm scale, near 1
  kNormBias,        // a LayerNorm bias, near 0
  kCorrectionBias,  // the router's e_score_correction_bias, F32
};

struct TensorEntry {
  std::string name;  // full name, ending in ".weight" (or ".bias")
  Shape shape;
  TensorRole role;
};

std::vector<TensorEntry> CheckpointTensors(const ModelConfig& config);

}  // namespace dsv32
