// Bytes the KV cache keeps per token, per layer, for the layouts serving
// engines use with MLA and the DSA indexer (hand computation in
// docs/kv-cache-size.md):
//   bf16:        latent (kv_lora_rank) and rope key (qk_rope_head_dim) in
//                bf16, plus the indexer key (index_head_dim) in bf16.
//   fp8_ds_mla:  latent in FP8 with one f32 scale per 128 values, the rope
//                key in bf16; the indexer key in FP8 with one f32 scale per
//                128 values.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

enum class KvCacheFormat { kBf16, kFp8DsMla };
Result<KvCacheFormat> ParseKvCacheFormat(const std::string& name);  // "bf16", "fp8" / "fp8_ds_mla"
const char* KvCacheFormatName(KvCacheFormat format);

// The quantization tile of the FP8 layouts: one f32 scale per this many values.
inline constexpr int64_t kKvFp8ScaleGroup = 128;

struct KvBytesPerToken {
  int64_t mla = 0;      // per layer: latent + rope key
  int64_t indexer = 0;  // per layer: the indexer key (0 without DSA)
  int64_t per_layer() const { return mla + indexer; }
};

KvBytesPerToken KvCacheBytesPerToken(const ModelConfig& config, KvCacheFormat format);

}  // namespace dsv32
