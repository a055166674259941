// Every tensor of a DeepSeek-V3 family checkpoint, derived from its config:
// names, shapes and stored dtypes exactly as the safetensors files hold them,
// including the FP8 block scales and the multi-token-prediction (MTP) layers.
// The sharding plan and the memory planner both count from this list.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace dsv32 {

struct CheckpointTensor {
  std::string name;
  Shape shape;
  DType dtype = DType::kBF16;
  // The matrix of a linear layer: what a weight format (FP8, int4) changes.
  // Embeddings, the LM heads, the router and the indexer's weights_proj are
  // not linear layers in this sense and stay as stored.
  bool linear = false;
  // An FP8 block-quantized matrix, stored with a "<name>_scale_inv" partner.
  bool quantized = false;
  // A weight_scale_inv tensor: one f32 per block of its matrix.
  bool is_scale = false;
  Shape scaled_shape;   // for a scale: the shape of its matrix
  int64_t layer = -1;   // -1: embeddings, final norm, lm_head
  bool mtp = false;     // in a multi-token-prediction layer
  int64_t expert = -1;  // routed expert index, -1 otherwise

  int64_t numel() const { return NumElements(shape); }
  int64_t stored_bytes() const { return numel() * static_cast<int64_t>(DTypeSize(dtype)); }
};

// In checkpoint order by layer; within a layer the order is unspecified.
std::vector<CheckpointTensor> CheckpointTensors(const ModelConfig& config);

struct ParameterCount {
  int64_t main = 0;  // embeddings, the num_hidden_layers layers, norm, lm_head
  int64_t mtp = 0;   // the MTP layers, with their own embedding and head copies
  int64_t total() const { return main + mtp; }
};
// Parameters, not counting the FP8 scales.
ParameterCount CountParameters(const std::vector<CheckpointTensor>& tensors);

}  // namespace dsv32
