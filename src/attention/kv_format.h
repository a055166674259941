// How one token's cache entry is stored for each KvLayout: three fields
// (latent, rope key, indexer key), each a row of values in f32, bf16 or
// E4M3 with f32 scales. Inside a page every field of one layer is a plane
// of page_tokens rows, so a scan over one field (the indexer's keys) reads
// contiguous memory.
#pragma once

#include <cstdint>

#include "attention/kv_layout.h"
#include "core/config.h"
#include "core/dtype.h"

namespace dsv32 {

struct KvFieldFormat {
  DType dtype = DType::kF32;  // kF32, kBF16 or kF8E4M3
  int64_t dim = 0;            // values per token; 0 for an absent field
  int64_t scale_group = 0;    // values sharing one f32 scale; 0 when unscaled

  int64_t scales() const { return scale_group ? (dim + scale_group - 1) / scale_group : 0; }
  int64_t value_bytes() const { return dim * static_cast<int64_t>(DTypeSize(dtype)); }
  int64_t scale_bytes() const { return 4 * scales(); }
  int64_t bytes() const { return value_bytes() + scale_bytes(); }
};

enum class KvField { kLatent = 0, kRopeKey = 1, kIndexKey = 2 };
inline constexpr int kNumKvFields = 3;

struct KvEntryFormat {
  KvLayout layout = KvLayout::kF32;
  KvFieldFormat fields[kNumKvFields];

  const KvFieldFormat& field(KvField f) const { return fields[static_cast<int>(f)]; }
  // Bytes of one token in one layer; equals KvBytesPerTokenPerLayer.
  int64_t bytes() const;

  static KvEntryFormat For(const ModelConfig& config, KvLayout layout);
};

// f32 -> stored form. E4M3 groups are scaled so their largest magnitude
// maps to 448 (the format's largest finite value); an all-zero group gets
// scale 1. `scales` may be unaligned.
void EncodeKvField(const KvFieldFormat& f, const float* src, uint8_t* values, uint8_t* scales);
// Stored form -> f32 (exact for kF32; the scalar reference of the fast path).
void DecodeKvField(const KvFieldFormat& f, const uint8_t* values, const uint8_t* scales,
                   float* dst);

}  // namespace dsv32
