#include "attention/kv_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace dsv32 {

namespace {
constexpr int64_t kFp8ScaleGroup = 128;
constexpr float kFp8Max = 448.0f;

KvFieldFormat Field(KvLayout layout, int64_t dim, int64_t fp8_group, bool fp8_allowed) {
  KvFieldFormat f;
  f.dim = dim;
  switch (layout) {
    case KvLayout::kF32:
      f.dtype = DType::kF32;
      break;
    case KvLayout::kBf16:
      f.dtype = DType::kBF16;
      break;
    case KvLayout::kFp8:
      f.dtype = fp8_allowed ? DType::kF8E4M3 : DType::kBF16;
      f.scale_group = fp8_allowed && dim ? fp8_group : 0;
      break;
  }
  return f;
}
}  // namespace

int64_t KvEntryFormat::bytes() const {
  int64_t total = 0;
  for (const KvFieldFormat& f : fields) total += f.bytes();
  return total;
}

KvEntryFormat KvEntryFormat::For(const ModelConfig& c, KvLayout layout) {
  KvEntryFormat e;
  e.layout = layout;
  // fp8_ds_mla: the latent in E4M3 per 128 values, the rope key kept in
  // bf16 (its rotation makes it poorly suited to a shared scale), the
  // indexer key in E4M3 with one scale for the whole key.
  e.fields[0] = Field(layout, c.kv_lora_rank, kFp8ScaleGroup, true);
  e.fields[1] = Field(layout, c.qk_rope_head_dim, kFp8ScaleGroup, false);
  const int64_t index_dim = c.has_indexer ? c.index_head_dim : 0;
  e.fields[2] = Field(layout, index_dim, index_dim, true);
  return e;
}

void EncodeKvField(const KvFieldFormat& f, const float* src, uint8_t* values, uint8_t* scales) {
  switch (f.dtype) {
    case DType::kF32:
      std::memcpy(values, src, static_cast<size_t>(f.dim) * sizeof(float));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < f.dim; ++i) {
        const uint16_t v = F32ToBF16(src[i]);
        std::memcpy(values + 2 * i, &v, 2);
      }
      return;
    case DType::kF8E4M3:
      for (int64_t g = 0; g < f.scales(); ++g) {
        const int64_t begin = g * f.scale_group;
        const int64_t end = std::min(f.dim, begin + f.scale_group);
        float amax = 0.0f;
        for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(src[i]));
        const float scale = amax > 0.0f && std::isfinite(amax) ? amax / kFp8Max : 1.0f;
        const float inv = 1.0f / scale;
        for (int64_t i = begin; i < end; ++i) values[i] = F32ToFp8E4M3(src[i] * inv);
        std::memcpy(scales + 4 * g, &scale, 4);
      }
      return;
    default:
      return;
  }
}

void DecodeKvField(const KvFieldFormat& f, const uint8_t* values, const uint8_t* scales,
                   float* dst) {
  switch (f.dtype) {
    case DType::kF32:
      std::memcpy(dst, values, static_cast<size_t>(f.dim) * sizeof(float));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < f.dim; ++i) {
        uint16_t v;
        std::memcpy(&v, values + 2 * i, 2);
        dst[i] = BF16ToF32(v);
      }
      return;
    case DType::kF8E4M3:
      for (int64_t g = 0; g < f.scales(); ++g) {
        float scale;
        std::memcpy(&scale, scales + 4 * g, 4);
        const int64_t begin = g * f.scale_group;
        const int64_t end = std::min(f.dim, begin + f.scale_group);
        for (int64_t i = begin; i < end; ++i) dst[i] = Fp8E4M3ToF32(values[i]) * scale;
      }
      return;
    default:
      return;
  }
}

}  // namespace dsv32
