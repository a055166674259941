// The model's weights, bound by checkpoint tensor name. Matrices stay in the
// mmap'd files in their stored dtype; only small vectors (norms, biases) are
// copied out as f32.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attention/mla.h"
#include "core/checkpoint.h"
#include "core/config.h"
#include "moe/moe.h"

namespace dsv32 {

struct LayerWeights {
  std::vector<float> input_layernorm;
  std::vector<float> post_attention_layernorm;
  MlaWeights self_attn;
  bool is_moe = false;
  MlpWeights mlp;  // dense layers
  MoeWeights moe;  // MoE layers
};

// The multi-token-prediction module (model.layers.{num_hidden_layers}.*),
// which speculative decoding drafts with (Model::ForwardMtp).
struct MtpWeights {
  std::vector<float> enorm, hnorm;
  QuantMatrix eh_proj;  // [hidden, 2 * hidden], input [enorm(embedding); hnorm(hidden)]
  std::vector<float> shared_head_norm;
  // The module's own copies where the checkpoint stores them, else the main
  // model's embed_tokens and lm_head (the released weights store copies of
  // exactly those).
  QuantMatrix embed_tokens;      // [vocab, hidden]
  QuantMatrix shared_head_head;  // [vocab, hidden]
  LayerWeights layer;
};

struct ModelWeights {
  QuantMatrix embed_tokens;  // [vocab, hidden]
  std::vector<float> norm;
  QuantMatrix lm_head;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<MtpWeights> mtp;
};

// How the matmuls treat their activations.
enum class ActivationPrecision {
  // f32 throughout: the reference mode, held to the goldens' 1e-4.
  kF32,
  // The fast mode: FP8 matmuls round their block-scaled activations to bf16
  // and run on bf16 dot products where the CPU has them (AVX-512 BF16);
  // elsewhere, and for the other formats, as kF32.
  kBf16,
};

// Parses "f32" or "bf16".
Result<ActivationPrecision> ParseActivationPrecision(std::string_view name);
const char* ActivationPrecisionName(ActivationPrecision p);

struct BindOptions {
  ActivationPrecision activations = ActivationPrecision::kF32;
  // Model::Load reads every page of the checkpoint in before it returns
  // (Checkpoint::Populate), so loading takes as long as reading the files
  // and the first requests do not pay for it: with the page cache cold, the
  // 7168-wide bench model's first forward pass took 3 s against 0.17.
  bool populate = false;
};

// Binds one [rows, cols] weight matrix `prefix`.weight in whatever format
// the checkpoint stores it (with its scales), checking dtype and shape.
Result<QuantMatrix> BindMatrix(const ModelConfig& config, const Checkpoint& checkpoint,
                               const std::string& prefix, int64_t rows, int64_t cols);

// Binds every tensor the config implies, checking each one's dtype and shape.
// A missing or mis-shaped tensor is an error naming it.
Result<ModelWeights> BindWeights(const ModelConfig& config, const Checkpoint& checkpoint,
                                 const BindOptions& options = {});

}  // namespace dsv32
