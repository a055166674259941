// The DSA indexer's scoring kernels: one query's heads against a block of
// cached index keys as a small GEMM, q [heads, dim] x keys^T [dim, rows],
// with ReLU and the head-weighted sum done in registers, so each key is
// read once for all heads and each q value once for several keys.
//
// Lanes run over heads (q is stored transposed, heads padded to a multiple
// of 16 with zero weights), and each key value is broadcast, so keys are
// read in their cached row layout with no transpose.
//
// Two precisions:
//   kF32   q and keys in f32, each dot summed in dim order. What the forward
//          uses for every cache: f32 and bf16 keys are read as stored (bf16
//          widened), E4M3 keys widened exactly without their scale, which
//          multiplies the score instead (one scale per key).
//   kBf16  q rounded to bf16 and keys read as bf16 (E4M3 keys are exact in
//          bf16; other keys are rounded), each pair of dims (2i, 2i+1)
//          added to the f32 sum odd first, exactly as AVX512-BF16's
//          vdpbf16ps does. CPUs with AVX512-BF16 run that instruction; the
//          others run f32 FMAs in the same order, which give the same sums
//          (the products of two bf16 values are exact in f32). DeepSeek's
//          own kernel rounds q and k to FP8, coarser than this. Opt-in
//          (IndexerScores' precision argument; attention_bench compares
//          both): on the Xeon this was measured on, vdpbf16ps issues at a
//          quarter of the FMA rate, so its 32 multiply-adds per instruction
//          come out at half the f32 speed; and with bf16 keys it doubles the
//          rounding of each score, which moved the bf16 cache's tiny-a
//          logits past the bounds of KvModelTest.Bf16AndFp8CachesStayCloseToF32.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/kv_format.h"

namespace dsv32 {

enum class IndexPrecision { kF32, kBf16 };

// Heads are padded to a multiple of this in IndexQuery.
inline constexpr int64_t kIndexHeadPad = 16;

// One query laid out for the kernels; built once, read for every key.
struct IndexQuery {
  // q [heads, dim] after RoPE; head_weights [heads]; scale multiplies every
  // head weight (index_head_dim^-0.5). kBf16 needs an even dim.
  IndexQuery(const float* q, const float* head_weights, int64_t heads, int64_t dim, float scale,
             IndexPrecision precision);

  IndexPrecision precision;
  int64_t heads, dim, padded_heads;
  std::vector<float> q_t;       // [dim, padded_heads]; bf16-rounded for kBf16
  std::vector<uint32_t> pairs;  // kBf16: [dim / 2, padded_heads], bf16 of dims 2i | 2i+1 << 16
  std::vector<float> w;         // [padded_heads]: head_weights * scale, 0 past heads
};

// `rows` keys of consecutive positions as the kernels read them: f32 or
// bf16 rows [rows, dim], and a factor per key multiplying its score (null
// for none; E4M3 keys are read without their scale, which comes back here).
struct IndexKeys {
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;
  const float* factors = nullptr;
  int64_t rows = 0;
};

// Reads cached index keys (planes of one field, a page at a time) into
// IndexKeys for a precision: f32 rows in place, E4M3 decoded, bf16 rows in
// place when the CPU multiplies bf16 and widened otherwise. Appended pages
// are consecutive positions, at most max_rows between two Clears; keys()
// stays valid until the next Clear.
class IndexKeyReader {
 public:
  IndexKeyReader(const KvFieldFormat& f, IndexPrecision precision, int64_t max_rows);
  void Clear();
  void Append(const uint8_t* values, const uint8_t* scales, int64_t rows);
  IndexKeys keys() const;

 private:
  void Copy(const uint8_t* values, const uint8_t* scales, int64_t rows);

  KvFieldFormat f_;
  IndexPrecision precision_;
  bool native_bf16_;
  int64_t rows_ = 0;
  const uint8_t* in_place_ = nullptr;  // the one page read without a copy
  std::vector<float> f32_, factors_;
  std::vector<uint16_t> bf16_;
};

// out[r] = factor[r] * sum_h w[h] * ReLU(q_h . key_r) for r in [0, keys.rows),
// in q's precision.
void KernelIndexScores(const IndexQuery& q, const IndexKeys& keys, float* out);

// The scalar definition of KernelIndexScores (keys as f32 rows, the values
// IndexKeys holds).
void IndexScoresReference(const IndexQuery& q, const float* keys, const float* factors,
                          int64_t rows, float* out);

// Whether this CPU computes kBf16 with vdpbf16ps (and the build has it).
bool IndexKernelsUseAvx512Bf16();

// E4M3 values times 2^-8 (exact, subnormals included): to f32, and to bf16.
void KernelE4M3ToF32Scaled(const uint8_t* src, int64_t n, float* dst);
void KernelE4M3ToBf16Scaled(const uint8_t* src, int64_t n, uint16_t* dst);

}  // namespace dsv32
