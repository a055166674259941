// INT4 GEMV on integer dot products. The activations are rounded to int8,
// one scale per 32 columns (the INT4 chunk), and each chunk of nibbles is
// multiplied into them four products to a 32-bit lane: VPDPBUSD on AVX-512
// VNNI, PMADDUBSW + PMADDWD on the other x86 targets. Per 64 bytes of weights
// that is about ten instructions where decoding the nibbles to f32 takes
// twenty, which is the difference between trailing memory and keeping up.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "quant/gemv_rows.h"
#include "quant/int4.h"
#include "quant/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/gemv_int8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/decode-inl.h"

// Defined once, though foreach_target includes this file once per target.
#ifndef DSV32_QUANT_GEMV_INT8_ONCE_
#define DSV32_QUANT_GEMV_INT8_ONCE_
namespace dsv32 {
// The group sizes the int8 kernels are written for: a scale per chunk, or
// one per four chunks.
inline bool HasInt8Kernel(const QuantMatrix& m) {
  return m.block_cols == 32 || m.block_cols == 128;
}
}  // namespace dsv32
#endif

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
constexpr bool kHasInt8Dot = true;

#if HWY_TARGET == HWY_AVX3_DL
// acc + per 32-bit lane the four products of the unsigned bytes of w with
// the signed bytes of x. Highway's target attributes for AVX3_DL name VNNI's
// VEX form only, so the EVEX instruction is written out; the target is
// chosen only on CPUs with AVX-512 VNNI.
template <class R>
HWY_INLINE R QuadDot(R acc, R w, R x) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));
  return acc;
}
#else
// Per 16-bit lane the two products of the unsigned bytes of w with the
// signed bytes of x (PMADDUBSW). Nibbles times int8 stay far from its
// saturation: 2 * 15 * 127.
template <class R>
HWY_INLINE R PairDot(R w, R x) {
  if constexpr (sizeof(R) == 64) {
    return _mm512_maddubs_epi16(w, x);
  } else if constexpr (sizeof(R) == 32) {
    return _mm256_maddubs_epi16(w, x);
  } else {
    return _mm_maddubs_epi16(w, x);
  }
}
#endif

// The 32-bit sums of the nibbles of `bytes` times the int8 activations:
// per chunk of 16 bytes, four lanes. The low nibbles of a chunk pair with
// xlo, the high ones with xhi.
template <class DU8>
HWY_INLINE hn::Vec<hn::Repartition<int32_t, DU8>> NibbleDot(DU8 du8, hn::Vec<DU8> bytes,
                                                           hn::Vec<hn::Repartition<int8_t, DU8>> xlo,
                                                           hn::Vec<hn::Repartition<int8_t, DU8>> xhi) {
  const hn::Repartition<uint16_t, DU8> du16;
  const hn::Repartition<int32_t, DU8> di32;
  const auto mask = hn::Set(du8, uint8_t{0x0f});
  const auto lo = hn::And(bytes, mask);
  const auto hi = hn::And(hn::BitCast(du8, hn::ShiftRight<4>(hn::BitCast(du16, bytes))), mask);
#if HWY_TARGET == HWY_AVX3_DL
  return {QuadDot(QuadDot(hn::Zero(di32).raw, lo.raw, xlo.raw), hi.raw, xhi.raw)};
#else
  // The low and high halves' pairs add in 16 bits (at most 4 * 15 * 127)
  // before one PMADDWD widens them.
  const hn::Repartition<int16_t, DU8> di16;
  using VI16 = hn::Vec<decltype(di16)>;
  const VI16 pairs = hn::Add(VI16{PairDot(lo.raw, xlo.raw)}, VI16{PairDot(hi.raw, xhi.raw)});
  auto unused = hn::Zero(di32);
  return hn::ReorderWidenMulAccumulate(di32, pairs, hn::Set(di16, int16_t{1}), hn::Zero(di32),
                                       unused);
#endif
}
#else
constexpr bool kHasInt8Dot = false;
#endif

// The activations of one call, rounded. For token t, chunk c (columns
// 32c..32c+31) and j < 16: lo[16c + j] holds column 32c + j and hi[16c + j]
// column 32c + 16 + j, matching the nibbles of the packed chunk; scale[4c ..
// 4c + 3] is the chunk's scale, once per 32-bit lane the chunk's sums fill;
// sums[g] is the sum of group g's rounded activations (for the zero points).
struct RoundedActivations {
  std::vector<int8_t> lo, hi;
  std::vector<float> scale, sums;
  int64_t chunk_bytes = 0;  // per token: chunks * 16
  int64_t groups = 0;
};

// Rounds chunk `c` of x (32 values, zero past `cols`) to int8 at scale
// max |x| / 127, writes its codes, and returns its scale and code sum.
HWY_INLINE void RoundChunk(const float* x, int64_t cols, int64_t c, int8_t* lo, int8_t* hi,
                           float* scale, int32_t* code_sum) {
  const DF df;
  const hn::Rebind<int32_t, DF> di32;
  const hn::Rebind<int8_t, DF> di8;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  HWY_ALIGN float v[kInt4Chunk];
  const int64_t c0 = c * kInt4Chunk;
  const int64_t n = std::min<int64_t>(kInt4Chunk, cols - c0);
  std::fill(std::copy(x + c0, x + c0 + n, v), v + kInt4Chunk, 0.0f);
  VF amax = hn::Zero(df);
  for (int64_t j = 0; j < kInt4Chunk; j += lanes) amax = hn::Max(amax, hn::Abs(hn::Load(df, v + j)));
  const float m = hn::GetLane(hn::MaxOfLanes(df, amax));
  const VF inv = hn::Set(df, m > 0.0f ? 127.0f / m : 0.0f);
  auto sum = hn::Zero(di32);
  for (int64_t j = 0; j < kInt4Chunk; j += lanes) {
    // |v| * 127 / m rounds to at most 127, so the demotion never saturates.
    const auto q = hn::NearestInt(hn::Mul(hn::Load(df, v + j), inv));
    sum = hn::Add(sum, q);
    int8_t* out = j < kInt4ChunkBytes ? lo + j : hi + (j - kInt4ChunkBytes);
    hn::StoreU(hn::DemoteTo(di8, q), di8, out);
  }
  *scale = m / 127.0f;
  *code_sum = hn::GetLane(hn::SumOfLanes(di32, sum));
}

void RoundActivations(const float* x, int64_t tokens, int64_t cols, int64_t group,
                      RoundedActivations* out) {
  const int64_t chunks = Int4RowBytes(cols) / kInt4ChunkBytes;
  const int64_t group_chunks = group / kInt4Chunk;
  out->chunk_bytes = chunks * kInt4ChunkBytes;
  out->groups = (chunks + group_chunks - 1) / group_chunks;
  out->lo.resize(static_cast<size_t>(tokens * out->chunk_bytes));
  out->hi.resize(out->lo.size());
  out->scale.resize(static_cast<size_t>(tokens * chunks * 4));
  out->sums.assign(static_cast<size_t>(tokens * out->groups), 0.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t at = t * out->chunk_bytes + c * kInt4ChunkBytes;
      float s;
      int32_t code_sum;
      RoundChunk(x + t * cols, cols, c, out->lo.data() + at, out->hi.data() + at, &s, &code_sum);
      std::fill_n(out->scale.begin() + (t * chunks + c) * 4, 4, s);
      out->sums[static_cast<size_t>(t * out->groups + c / group_chunks)] +=
          s * static_cast<float>(code_sum);
    }
  }
}

#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

// The weight scales of the chunks a vector of d's 32-bit lanes covers, four
// lanes to a chunk starting at `chunk`: kGroupChunks is 1 (a scale per
// chunk) or 4 (one per four chunks, and a vector never spans two groups).
template <int kGroupChunks, class DF32>
HWY_INLINE hn::Vec<DF32> ChunkScales(DF32 df, const float* HWY_RESTRICT scales, int64_t chunk) {
  constexpr size_t kChunks = hn::MaxLanes(DF32()) / 4;
  if constexpr (kGroupChunks != 1 || kChunks == 1) {
    return hn::Set(df, scales[chunk / kGroupChunks]);
  } else if constexpr (kChunks == 2) {
    const hn::Half<DF32> dh;
    return hn::Combine(df, hn::Set(dh, scales[chunk + 1]), hn::Set(dh, scales[chunk]));
  } else {
    static_assert(kChunks == 4);
    alignas(64) static constexpr int32_t kSpread[16] = {0, 0, 0, 0, 1, 1, 1, 1,
                                                        2, 2, 2, 2, 3, 3, 3, 3};
    return hn::TableLookupLanes(hn::LoadDup128(df, scales + chunk),
                                hn::SetTableIndices(df, kSpread));
  }
}

// The f32 sum that `chunks` chunks from `chunk0` on add to row i, token t,
// in vectors of DU8: weights of the rows at row[i], scales at scale[i].
template <int kRows, int kTokens, int kGroupChunks, class DU8>
HWY_INLINE void AccumulateChunks(DU8 du8, const RoundedActivations& a, int64_t t0,
                                 const uint8_t* const (&row)[kRows],
                                 const float* const (&scale)[kRows], int64_t chunk0,
                                 int64_t chunk_end, GemvStreamPrefetch* prefetch,
                                 float (&sums)[kRows][kTokens]) {
  const hn::Repartition<int8_t, DU8> di8;
  const hn::Repartition<float, DU8> df;
  using VF32 = hn::Vec<decltype(df)>;
  constexpr int64_t kBytes = static_cast<int64_t>(hn::MaxLanes(DU8()));
  constexpr int64_t kChunks = kBytes / kInt4ChunkBytes;
  const int64_t chunks_per_token = a.chunk_bytes / kInt4ChunkBytes;
  VF32 acc[kRows][kTokens];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) acc[i][t] = hn::Zero(df);
  }
  for (int64_t c = chunk0; c + kChunks <= chunk_end; c += kChunks) {
    const int64_t byte = c * kInt4ChunkBytes;
    hn::Vec<decltype(di8)> xlo[kTokens], xhi[kTokens];
    VF32 xs[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      const int64_t at = (t0 + t) * a.chunk_bytes + byte;
      xlo[t] = hn::LoadU(di8, a.lo.data() + at);
      xhi[t] = hn::LoadU(di8, a.hi.data() + at);
      xs[t] = hn::LoadU(df, a.scale.data() + ((t0 + t) * chunks_per_token + c) * 4);
    }
    prefetch->Step();
    for (int i = 0; i < kRows; ++i) {
      const auto bytes = hn::LoadU(du8, row[i] + byte);
      const VF32 ws = ChunkScales<kGroupChunks>(df, scale[i], c);
      for (int t = 0; t < kTokens; ++t) {
        const VF32 dot = hn::ConvertTo(df, NibbleDot(du8, bytes, xlo[t], xhi[t]));
        acc[i][t] = hn::MulAdd(dot, hn::Mul(ws, xs[t]), acc[i][t]);
      }
    }
  }
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) sums[i][t] += hn::GetLane(hn::SumOfLanes(df, acc[i][t]));
  }
}

// Rows r0 .. r0 + kRows of y for tokens t0 .. t0 + kTokens: whole vectors
// of chunks, then the chunks left over 16 bytes at a time.
template <int kRows, int kTokens, int kGroupChunks>
HWY_INLINE void Int8RowBlock(const QuantMatrix& m, const RoundedActivations& a, int64_t r0,
                             int64_t t0, float* y) {
  const hn::ScalableTag<uint8_t> du8;
  const hn::CappedTag<uint8_t, 16> du8_chunk;
  constexpr int64_t kChunks = static_cast<int64_t>(hn::MaxLanes(du8)) / kInt4ChunkBytes;
  const auto* packed = static_cast<const uint8_t*>(m.data);
  const int64_t row_bytes = a.chunk_bytes;
  const int64_t chunks = row_bytes / kInt4ChunkBytes;
  const int64_t groups = m.scale_cols();
  const uint8_t* row[kRows];
  const float* scale[kRows];
  for (int i = 0; i < kRows; ++i) {
    row[i] = packed + (r0 + i) * row_bytes;
    scale[i] = m.scales + (r0 + i) * groups;
  }
  float sums[kRows][kTokens] = {};
  const int64_t whole = chunks / kChunks * kChunks;
  // One core keeps too few misses in flight to stream at full speed alone,
  // so the next block of rows is requested as this one is read.
  GemvStreamPrefetch prefetch(packed, row_bytes, m.rows, r0, kRows,
                              whole / kChunks + (chunks - whole));
  AccumulateChunks<kRows, kTokens, kGroupChunks>(du8, a, t0, row, scale, 0, whole, &prefetch, sums);
  if (whole < chunks) {
    AccumulateChunks<kRows, kTokens, kGroupChunks>(du8_chunk, a, t0, row, scale, whole, chunks,
                                                   &prefetch, sums);
  }
  for (int i = 0; i < kRows; ++i) {
    const uint8_t* zeros = m.zeros ? m.zeros + (r0 + i) * groups : nullptr;
    for (int t = 0; t < kTokens; ++t) {
      const float* group_sums = a.sums.data() + (t0 + t) * a.groups;
      y[(t0 + t) * m.rows + r0 + i] =
          sums[i][t] - Int4ZeroCorrection(scale[i], zeros, group_sums, groups);
    }
  }
}

// The rows [r, end) for one group of kTokens tokens. One or two tokens take
// four rows at a time, more tokens two, so the accumulators and the tokens'
// activations stay in registers.
template <int kTokens, int kGroupChunks>
HWY_INLINE void Int8Rows(const QuantMatrix& m, const RoundedActivations& a, int64_t r, int64_t end,
                         int64_t t0, float* y) {
  constexpr int kRows = kTokens <= 2 ? 4 : 2;
  for (; r + kRows <= end; r += kRows) {
    Int8RowBlock<kRows, kTokens, kGroupChunks>(m, a, r, t0, y);
  }
  for (; r < end; ++r) Int8RowBlock<1, kTokens, kGroupChunks>(m, a, r, t0, y);
}

template <int kGroupChunks>
HWY_INLINE void Int8TokenGroup(const QuantMatrix& m, const RoundedActivations& a, int64_t r,
                               int64_t end, int64_t t0, int64_t count, float* y) {
  switch (count) {
    case 1:
      return Int8Rows<1, kGroupChunks>(m, a, r, end, t0, y);
    case 2:
      return Int8Rows<2, kGroupChunks>(m, a, r, end, t0, y);
    case 3:
      return Int8Rows<3, kGroupChunks>(m, a, r, end, t0, y);
    default:
      return Int8Rows<4, kGroupChunks>(m, a, r, end, t0, y);
  }
}

// Rows are taken in chunks of kGemvRowChunk; the tokens in groups of at
// most four, each group running over the chunk's rows, which stay in L2 for
// the next group.
constexpr int64_t kMaxGroupTokens = 4;

template <int kGroupChunks>
void RunInt8(const QuantMatrix& m, const RoundedActivations& a, int64_t tokens, float* y,
             ThreadPool* pool) {
  const int64_t groups = (tokens + kMaxGroupTokens - 1) / kMaxGroupTokens;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; chunk += kGemvRowChunk) {
      const int64_t chunk_end = std::min(end, chunk + kGemvRowChunk);
      for (int64_t t0 = 0, g = 0; g < groups; ++g) {
        const int64_t count = (tokens - t0) / (groups - g);
        Int8TokenGroup<kGroupChunks>(m, a, chunk, chunk_end, t0, count, y);
        t0 += count;
      }
    }
  };
  ForGemvRows(m.rows, pool, body);
}

#endif  // x86 with vectors

}  // namespace

bool Int8DotAvailableImpl() { return kHasInt8Dot; }

void RoundActivationsImpl(const float* x, int64_t tokens, int64_t cols, float* out) {
  RoundedActivations a;
  RoundActivations(x, tokens, cols, kInt4Chunk, &a);
  const int64_t chunks = a.chunk_bytes / kInt4ChunkBytes;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t chunk = c / kInt4Chunk, j = c % kInt4Chunk;
      const int64_t at = t * a.chunk_bytes + chunk * kInt4ChunkBytes + j % kInt4ChunkBytes;
      const int8_t q = j < kInt4ChunkBytes ? a.lo[at] : a.hi[at];
      out[t * cols + c] = static_cast<float>(q) * a.scale[(t * chunks + chunk) * 4];
    }
  }
}

bool MatVecInt4Int8Impl(const QuantMatrix& m, const float* x, int64_t tokens, float* y,
                        ThreadPool* pool) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  if (!HasInt8Kernel(m)) return false;
  thread_local RoundedActivations a;
  RoundActivations(x, tokens, m.cols, m.block_cols, &a);
  if (m.block_cols == 32) {
    RunInt8<1>(m, a, tokens, y, pool);
  } else {
    RunInt8<4>(m, a, tokens, y, pool);
  }
  return true;
#else
  (void)m, (void)x, (void)tokens, (void)y, (void)pool;
  return false;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(Int8DotAvailableImpl);
HWY_EXPORT(RoundActivationsImpl);
HWY_EXPORT(MatVecInt4Int8Impl);

bool Int4DotRoundsActivations(const QuantMatrix& w) {
  return w.format == WeightFormat::kInt4 && HasInt8Kernel(w) &&
         HWY_DYNAMIC_DISPATCH(Int8DotAvailableImpl)();
}

void RoundActivationsToInt8(const float* x, int64_t tokens, int64_t cols, float* out) {
  HWY_DYNAMIC_DISPATCH(RoundActivationsImpl)(x, tokens, cols, out);
}

bool MatVecInt4Int8(const QuantMatrix& w, const float* x, int64_t tokens, float* y,
                    ThreadPool* pool) {
  return HWY_DYNAMIC_DISPATCH(MatVecInt4Int8Impl)(w, x, tokens, y, pool);
}

}  // namespace dsv32
#endif  // HWY_ONCE
