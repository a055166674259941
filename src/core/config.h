// config.json of a DeepSeek-V3 family checkpoint, with every field the
// forward pass reads. Field names are the checkpoint's own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace dsv32 {

struct RopeScaling {
  std::string type;  // "yarn"; empty means plain RoPE
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

struct QuantizationConfig {
  // "fp8" (the release's block-scaled E4M3), "dsv32_int4" (this library's
  // grouped INT4, docs/int4-format.md); empty when the checkpoint is unquantized.
  std::string quant_method;
  std::string fmt;           // "e4m3"
  std::string scale_fmt;     // "ue8m0" or empty
  int64_t block_rows = 128;  // weight_block_size[0]: along the output dimension
  int64_t block_cols = 128;  // weight_block_size[1]: along the input dimension
  int64_t group_size = 0;    // dsv32_int4: weights per scale along a row
  bool zero_point = false;   // dsv32_int4: asymmetric groups ("symmetric": false)
};

struct ModelConfig {
  std::string model_type;  // "deepseek_v32" or "deepseek_v3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t moe_intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_nextn_predict_layers = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  // MLA.
  std::optional<int64_t> q_lora_rank;  // absent: a plain q_proj
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  RopeScaling rope_scaling;

  // MoE.
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = true;
  std::string scoring_func;  // "sigmoid"
  std::string topk_method;   // "noaux_tc"
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;

  // DSA lightning indexer (deepseek_v32 only).
  bool has_indexer = false;
  int64_t index_n_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;

  QuantizationConfig quantization;

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace &&
           layer % moe_layer_freq == 0;
  }
  // Bytes the reference KV cache keeps per token over all layers, in f32:
  // the latent, the rope key and (V3.2) the indexer key.
  int64_t kv_values_per_token_per_layer() const {
    return kv_lora_rank + qk_rope_head_dim + (has_indexer ? index_head_dim : 0);
  }
};

// Parses and validates; any missing or unsupported field is an error naming it.
Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& origin);
Result<ModelConfig> LoadModelConfig(const std::string& path);

}  // namespace dsv32
