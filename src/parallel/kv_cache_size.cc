#include "parallel/kv_cache_size.h"

namespace dsv32 {

namespace {
int64_t Fp8WithScales(int64_t values) {
  return values + 4 * ((values + kKvFp8ScaleGroup - 1) / kKvFp8ScaleGroup);
}
}  // namespace

Result<KvCacheFormat> ParseKvCacheFormat(const std::string& name) {
  if (name == "bf16") return KvCacheFormat::kBf16;
  if (name == "fp8" || name == "fp8_ds_mla") return KvCacheFormat::kFp8DsMla;
  return InvalidArgument("KV cache format '" + name + "' is not one of: bf16, fp8 (fp8_ds_mla)");
}

const char* KvCacheFormatName(KvCacheFormat format) {
  return format == KvCacheFormat::kBf16 ? "bf16" : "fp8_ds_mla";
}

KvBytesPerToken KvCacheBytesPerToken(const ModelConfig& c, KvCacheFormat format) {
  KvBytesPerToken b;
  const int64_t index_dim = c.has_indexer ? c.index_head_dim : 0;
  if (format == KvCacheFormat::kBf16) {
    b.mla = (c.kv_lora_rank + c.qk_rope_head_dim) * 2;
    b.indexer = index_dim * 2;
  } else {
    b.mla = Fp8WithScales(c.kv_lora_rank) + c.qk_rope_head_dim * 2;
    b.indexer = index_dim > 0 ? Fp8WithScales(index_dim) : 0;
  }
  return b;
}

}  // namespace dsv32
