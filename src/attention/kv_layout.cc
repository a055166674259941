#include "attention/kv_layout.h"

#include <string>

namespace dsv32 {

namespace {
constexpr int64_t kFp8ScaleGroup = 128;
}

Result<KvLayout> ParseKvLayout(std::string_view name) {
  if (name == "f32") return KvLayout::kF32;
  if (name == "bf16") return KvLayout::kBf16;
  if (name == "fp8" || name == "fp8_ds_mla") return KvLayout::kFp8;
  return InvalidArgument("unknown KV cache dtype '" + std::string(name) +
                         "' (expected f32, bf16 or fp8)");
}

std::string_view KvLayoutName(KvLayout layout) {
  switch (layout) {
    case KvLayout::kF32: return "f32";
    case KvLayout::kBf16: return "bf16";
    case KvLayout::kFp8: return "fp8";
  }
  return "?";
}

int64_t KvBytesPerTokenPerLayer(const ModelConfig& c, KvLayout layout) {
  const int64_t latent = c.kv_lora_rank;
  const int64_t rope = c.qk_rope_head_dim;
  const int64_t index = c.has_indexer ? c.index_head_dim : 0;
  switch (layout) {
    case KvLayout::kF32:
      return 4 * (latent + rope + index);
    case KvLayout::kBf16:
      return 2 * (latent + rope + index);
    case KvLayout::kFp8: {
      const int64_t latent_scales = (latent + kFp8ScaleGroup - 1) / kFp8ScaleGroup;
      const int64_t index_bytes = index ? index + 4 : 0;
      return latent + 4 * latent_scales + 2 * rope + index_bytes;
    }
  }
  return 0;
}

int64_t KvBytesPerToken(const ModelConfig& c, KvLayout layout) {
  return c.num_hidden_layers * KvBytesPerTokenPerLayer(c, layout);
}

}  // namespace dsv32
