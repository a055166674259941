// How many bytes one token of context costs in the cache, per storage
// layout. MLA caches no per-head keys: per layer a token keeps its
// kv_lora_rank latent and its qk_rope_head_dim rope key, and V3.2 adds the
// indexer's index_head_dim key.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

enum class KvLayout {
  kF32,   // the reference cache: every value f32
  kBf16,  // latent, rope key and indexer key in bf16
  // DeepSeek's fp8_ds_mla: latent in E4M3 with one f32 scale per 128 values,
  // rope key in bf16; the indexer key in E4M3 with one f32 scale.
  kFp8,
};

Result<KvLayout> ParseKvLayout(std::string_view name);
std::string_view KvLayoutName(KvLayout layout);

// Bytes per token in one layer, and over all num_hidden_layers.
int64_t KvBytesPerTokenPerLayer(const ModelConfig& config, KvLayout layout);
int64_t KvBytesPerToken(const ModelConfig& config, KvLayout layout);

}  // namespace dsv32
