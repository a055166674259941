// MatVec: the decode-time kernel. Each worker walks its rows once, decodes a
// step of two or four vectors of weights at a time and multiplies them into
// every token, so the weights cross the memory bus exactly once per call.
#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/thread_pool.h"
#include "quant/gemv_rows.h"
#include "quant/int4.h"
#include "quant/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/gemv.cc"
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/decode-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

// Each *Rows type tells the kernel how one format is laid out: the granule
// that column blocks must be a multiple of, how to decode a step of
// kVectors * Lanes(df) weights into kVectors vectors and which columns of
// the activations each vector multiplies, and the scalar decode for the
// columns past the last whole step. No format applies a
// scale inside a row: FP8's block scales are folded into the activations
// (RunFp8Prescaled) and INT4's into its decoded weights, so every row is
// one unscaled sum.

// Defaults shared by the formats: any vector-aligned blocking.
struct RowsBase {
  static constexpr int kVectors = 2;
  explicit RowsBase(const QuantMatrix& m) : rows(m.rows), cols(m.cols) {}
  int64_t rows;
  int64_t cols;
  int64_t Granule() const { return kInt4Chunk; }
  int64_t StepsEnd(DF df, int64_t s0, int64_t s1) const {
    const int64_t step = 2 * static_cast<int64_t>(hn::Lanes(df));
    return s0 + (s1 - s0) / step * step;
  }
  static void Columns(DF df, int64_t k, int64_t* columns) {
    columns[0] = k;
    columns[1] = k + static_cast<int64_t>(hn::Lanes(df));
  }
  float Correction(int64_t, const float*) const { return 0.0f; }
};

struct F32Rows : RowsBase {
  explicit F32Rows(const QuantMatrix& m) : RowsBase(m), data(static_cast<const float*>(m.data)) {}
  const float* data;
  const void* Bytes(int64_t r, int64_t k) const { return data + r * cols + k; }
  int64_t RowBytes() const { return cols * 4; }
  void Decode(DF df, int64_t r, int64_t k, VF* w) const {
    const float* p = data + r * cols + k;
    w[0] = hn::LoadU(df, p);
    w[1] = hn::LoadU(df, p + hn::Lanes(df));
  }
  float Scalar(int64_t r, int64_t k) const { return data[r * cols + k]; }
};

struct BF16Rows : RowsBase {
  explicit BF16Rows(const QuantMatrix& m)
      : RowsBase(m), bf16(static_cast<const uint16_t*>(m.data)) {}
  const uint16_t* bf16;
  const void* Bytes(int64_t r, int64_t k) const { return bf16 + r * cols + k; }
  int64_t RowBytes() const { return cols * 2; }
  void Decode(DF df, int64_t r, int64_t k, VF* w) const {
    const uint16_t* p = bf16 + r * cols + k;
    w[0] = DecodeBF16(df, p);
    w[1] = DecodeBF16(df, p + hn::Lanes(df));
  }
  float Scalar(int64_t r, int64_t k) const { return BF16ToF32(bf16[r * cols + k]); }
};

// What the FP8 decodes share: the codes, row-major, and their block scales.
// The block scales are not applied here: RunFp8Prescaled folds them into
// the activations, so a whole row is one unscaled stream, with no
// reduction or scale lookup between blocks.
struct Fp8RowsBase : RowsBase {
  explicit Fp8RowsBase(const QuantMatrix& m)
      : RowsBase(m),
        fp8(static_cast<const uint8_t*>(m.data)),
        scales(m.scales),
        block_rows(m.block_rows),
        block_cols(m.block_cols),
        scale_cols(m.scale_cols()) {}
  const uint8_t* fp8;
  const float* scales;
  int64_t block_rows;
  int64_t block_cols;
  int64_t scale_cols;
  int64_t Granule() const { return block_cols; }
  const void* Bytes(int64_t r, int64_t k) const { return fp8 + r * cols + k; }
  int64_t RowBytes() const { return cols; }
  float Scale(int64_t r, int64_t block) const {
    return scales[(r / block_rows) * scale_cols + block];
  }
};

template <bool kTable>
struct Fp8Rows : Fp8RowsBase {
  using Fp8RowsBase::Fp8RowsBase;
  void Decode(DF df, int64_t r, int64_t k, VF* w) const {
    const uint8_t* p = fp8 + r * cols + k;
    if constexpr (kTable) {
      w[0] = DecodeFp8Table(df, p);
      w[1] = DecodeFp8Table(df, p + hn::Lanes(df));
    } else {
      DecodeFp8Bits(df, p, &w[0], &w[1]);
    }
  }
  // Scalar() is exact, so the tail is rescaled to match the decode above.
  float Scalar(int64_t r, int64_t k) const {
    return Fp8E4M3ToF32(fp8[r * cols + k]) * (kTable ? 1.0f : 1.0f / kFp8BitsScale);
  }
  // The factor for the activations of row r's column block `block`: its
  // scale, times what the bit decode leaves out.
  float BlockScale(int64_t r, int64_t block) const {
    return kTable ? Scale(r, block) : Scale(r, block) * kFp8BitsScale;
  }
};

// FP8 decoded by DecodeFp8F32Bits, four vectors a step, against
// activations rearranged step by step into its lane order (Fp8F32BitsOrder)
// and scaled as Fp8Rows' are; the columns past the last whole step keep
// their order. The blocks' columns must be a multiple of a step.
struct Fp8F32BitsRows : Fp8RowsBase {
  static constexpr int kVectors = 4;
  using Fp8RowsBase::Fp8RowsBase;
  int64_t StepsEnd(DF df, int64_t s0, int64_t s1) const {
    const int64_t step = Fp8F32BitsStep(df);
    return s0 + (s1 - s0) / step * step;
  }
  static void Columns(DF df, int64_t k, int64_t* columns) {
    for (int j = 0; j < kVectors; ++j) columns[j] = k + j * static_cast<int64_t>(hn::Lanes(df));
  }
  void Decode(DF df, int64_t r, int64_t k, VF* w) const {
#if HWY_TARGET != HWY_SCALAR
    DecodeFp8F32Bits(df, fp8 + r * cols + k, w);
#else
    (void)df, (void)r, (void)k, (void)w;  // never run: MatVecFp8F32Bits declines
#endif
  }
  float Scalar(int64_t r, int64_t k) const {
    return Fp8E4M3ToF32(fp8[r * cols + k]) * (1.0f / kFp8F32BitsScale);
  }
  float BlockScale(int64_t r, int64_t block) const { return Scale(r, block) * kFp8F32BitsScale; }
};

// Steps run over whole 32-weight chunks: the packed row is padded to a chunk
// and the activations are copied to a zero-padded buffer, so there is no
// scalar tail. A step decodes q * scale for its group; the zero points come
// off once per row through the groups' activation sums (Correction).
struct Int4Rows : RowsBase {
  explicit Int4Rows(const QuantMatrix& m)
      : RowsBase(m),
        packed(static_cast<const uint8_t*>(m.data)),
        scales(m.scales),
        zeros(m.zeros),
        group(m.block_cols),
        group_shift((group & (group - 1)) == 0 ? __builtin_ctzll(group) : -1),
        row_bytes(Int4RowBytes(m.cols)),
        groups(m.scale_cols()) {}
  const uint8_t* packed;
  const float* scales;
  const uint8_t* zeros;
  int64_t group;
  int group_shift;  // log2(group), or -1 when it is not a power of two
  int64_t row_bytes;
  int64_t groups;
  int64_t StepsEnd(DF, int64_t, int64_t s1) const {
    return (s1 + kInt4Chunk - 1) / kInt4Chunk * kInt4Chunk;
  }
  static void Columns(DF, int64_t k, int64_t* columns) {
    const Int4Step step = Int4StepAt(k);
    columns[0] = step.lo;
    columns[1] = step.hi;
  }
  const void* Bytes(int64_t r, int64_t k) const {
    return packed + r * row_bytes + Int4StepAt(k).byte;
  }
  int64_t RowBytes() const { return row_bytes; }
  void Decode(DF df, int64_t r, int64_t k, VF* w) const {
    const int64_t g = group_shift >= 0 ? k >> group_shift : k / group;
    DecodeInt4(df, packed + r * row_bytes + Int4StepAt(k).byte, scales[r * groups + g], &w[0],
               &w[1]);
  }
  float Scalar(int64_t, int64_t) const { return 0.0f; }
  // sum over groups of zero * scale * (sum of the group's activations).
  float Correction(int64_t r, const float* sums) const {
    return Int4ZeroCorrection(scales + r * groups, zeros ? zeros + r * groups : nullptr, sums,
                              groups);
  }
};

// Activations as the kernel reads them: x[t * stride + k], and for INT4 the
// per-group sums sums[t * groups + g].
struct Activations {
  const float* x;
  int64_t stride;
  const float* sums;
  int64_t groups;
};

// extra[i][t] += W[r0 + i, k0..k1) . x[t][k0..k1) by scalar decode, for the
// columns past the last whole step.
template <int kRows, int kTokens, class Rows>
HWY_INLINE void AddScalarTail(const Rows& w, int64_t r0, int64_t k0, int64_t k1,
                              const float* const* x, float (&extra)[kRows][kTokens]) {
  for (int i = 0; i < kRows && k0 < k1; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      float tail = 0.0f;
      for (int64_t k = k0; k < k1; ++k) tail += w.Scalar(r0 + i, k) * x[t][k];
      extra[i][t] += tail;
    }
  }
}

// Writes (when c0 is 0, less the zero points' correction) or adds the sums
// of rows r0 + i and tokens t0 + t to y.
template <int kRows, int kTokens, class Rows>
HWY_INLINE void StoreSums(const Rows& w, const VF (&acc)[kRows][kTokens],
                          const float (&extra)[kRows][kTokens], int64_t c0, const Activations& a,
                          int64_t r0, int64_t t0, float* y, int64_t y_stride) {
  const DF df;
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      float& out = y[(t0 + t) * y_stride + r0 + i];
      const float sum = hn::GetLane(hn::SumOfLanes(df, acc[i][t])) + extra[i][t];
      if (c0 == 0) {
        out = a.sums ? sum - w.Correction(r0 + i, a.sums + (t0 + t) * a.groups) : sum;
      } else {
        out += sum;
      }
    }
  }
}

// Weights per step of Rows.
template <class Rows>
HWY_INLINE int64_t StepWeights(DF df) {
  return Rows::kVectors * static_cast<int64_t>(hn::Lanes(df));
}

// Where the activations of each vector of the step at k start.
template <class Rows>
struct StepColumns {
  StepColumns(DF df, int64_t k) { Rows::Columns(df, k, at); }
  int64_t at[Rows::kVectors];
};

// Calls step(k, columns) for each whole step of weights in [c0, c1): k
// addresses the step's weights, columns.at[j] is where the activations of
// its vector j start. Returns where the whole steps end.
template <class Rows, class Step>
HWY_INLINE int64_t ForEachStep(const Rows& w, int64_t c0, int64_t c1, const Step& step) {
  const DF df;
  const int64_t steps_end = w.StepsEnd(df, c0, c1);
  for (int64_t k = c0; k < steps_end; k += StepWeights<Rows>(df)) {
    step(k, StepColumns<Rows>(df, k));
  }
  return steps_end;
}

// Adds W[r0 + i, c0..c1) . x[t0 + t, c0..c1) to y[t0 + t, r0 + i] for
// i < kRows, t < kTokens (writes it when c0 is 0). Two vector accumulators
// per row and token: two chains hide the FMA latency.
template <int kRows, int kTokens, class Rows>
HWY_INLINE void RowBlock(const Rows& w, int64_t c0, int64_t c1, const Activations& a, int64_t r0,
                         int64_t t0, float* y, int64_t y_stride) {
  const DF df;
  const float* x[kTokens];
  for (int t = 0; t < kTokens; ++t) x[t] = a.x + (t0 + t) * a.stride;

  VF a0[kRows][kTokens], a1[kRows][kTokens];
  float extra[kRows][kTokens];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      a0[i][t] = a1[i][t] = hn::Zero(df);
      extra[i][t] = 0.0f;
    }
  }
  // One core keeps too few misses in flight on its own to stream at full
  // speed, so the next block of rows is requested as this one is read.
  constexpr int kVectors = Rows::kVectors;
  GemvStreamPrefetch prefetch(w.Bytes(0, 0), w.RowBytes(), w.rows, r0, kRows,
                              (w.StepsEnd(df, c0, c1) - c0) / StepWeights<Rows>(df));
  const int64_t steps_end = ForEachStep(w, c0, c1, [&](int64_t k, StepColumns<Rows> columns) {
    prefetch.Step();
    for (int i = 0; i < kRows; ++i) {
      VF wv[kVectors];
      w.Decode(df, r0 + i, k, wv);
      // Even vectors into one chain, odd into the other.
      for (int j = 0; j < kVectors; j += 2) {
        for (int t = 0; t < kTokens; ++t) {
          a0[i][t] = hn::MulAdd(wv[j], hn::LoadU(df, x[t] + columns.at[j]), a0[i][t]);
          a1[i][t] = hn::MulAdd(wv[j + 1], hn::LoadU(df, x[t] + columns.at[j + 1]), a1[i][t]);
        }
      }
    }
  });
  VF acc[kRows][kTokens];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) acc[i][t] = hn::Add(a0[i][t], a1[i][t]);
  }
  // The columns past the last whole step, kept out of the loop above so its
  // accumulators stay in registers.
  AddScalarTail(w, r0, steps_end, c1, x, extra);
  StoreSums(w, acc, extra, c0, a, r0, t0, y, y_stride);
}

// Where the multi-token blocks of a chunk of rows put their sums. Column
// blocks before a row's last leave vector sums in `partial` (and the scalar
// tails' sums in `extra`), which the next block adds to, so each row and
// token is reduced to one float once rather than once per column block.
struct ChunkSums {
  float* partial;       // [row - first_row][token][lane]
  float* extra;         // [row - first_row][token]
  int64_t first_row;
  int64_t tokens;
  bool first, last;     // whether the column block is the row's first, last
};

// The same sums for groups of two to four tokens, where the FMAs per weight
// outnumber the decode work: each step of weights is decoded once and
// multiplied into every token, with one accumulator per row and token
// (there are enough of them to hide the FMA latency). Rows are decoded
// first and the tokens' activations loaded one token at a time, so kRows
// rows of kTokens accumulators fit in the registers.
template <int kRows, int kTokens, class Rows>
HWY_INLINE void MultiTokenBlock(const Rows& w, int64_t c0, int64_t c1, const Activations& a,
                                int64_t r0, int64_t t0, float* y, int64_t y_stride,
                                const ChunkSums& sums) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  constexpr int kVectors = Rows::kVectors;
  const float* x[kTokens];
  for (int t = 0; t < kTokens; ++t) x[t] = a.x + (t0 + t) * a.stride;

  VF acc[kRows][kTokens];
  float extra[kRows][kTokens];
  const auto at = [&](int i, int t) { return ((r0 + i - sums.first_row) * sums.tokens + t0 + t); };
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      acc[i][t] = sums.first ? hn::Zero(df) : hn::LoadU(df, sums.partial + at(i, t) * lanes);
      extra[i][t] = sums.first ? 0.0f : sums.extra[at(i, t)];
    }
  }
  const int64_t steps_end = ForEachStep(w, c0, c1, [&](int64_t k, StepColumns<Rows> columns) {
    VF wv[kRows][kVectors];
    for (int i = 0; i < kRows; ++i) {
      hwy::Prefetch(w.Bytes(std::min(r0 + i + kRows, w.rows - 1), k));
      w.Decode(df, r0 + i, k, wv[i]);
    }
    for (int t = 0; t < kTokens; ++t) {
      for (int j = 0; j < kVectors; ++j) {
        const VF xj = hn::LoadU(df, x[t] + columns.at[j]);
        for (int i = 0; i < kRows; ++i) acc[i][t] = hn::MulAdd(wv[i][j], xj, acc[i][t]);
      }
    }
  });
  AddScalarTail(w, r0, steps_end, c1, x, extra);
  if (!sums.last) {
    for (int i = 0; i < kRows; ++i) {
      for (int t = 0; t < kTokens; ++t) {
        hn::StoreU(acc[i][t], df, sums.partial + at(i, t) * lanes);
        sums.extra[at(i, t)] = extra[i][t];
      }
    }
    return;
  }
  StoreSums(w, acc, extra, 0, a, r0, t0, y, y_stride);
}

// The tokens of a group share eight vectors of decoded weights: four rows'
// of two-vector steps, two rows' of four.
template <int kTokens, class Rows>
HWY_INLINE void MultiTokenRows(const Rows& w, int64_t c0, int64_t c1, const Activations& a,
                               int64_t r, int64_t r_end, int64_t t0, float* y, int64_t y_stride,
                               const ChunkSums& sums) {
  constexpr int kRows = 8 / Rows::kVectors;
  for (; r + kRows <= r_end; r += kRows) {
    MultiTokenBlock<kRows, kTokens>(w, c0, c1, a, r, t0, y, y_stride, sums);
  }
  for (; r < r_end; ++r) MultiTokenBlock<1, kTokens>(w, c0, c1, a, r, t0, y, y_stride, sums);
}

template <class Rows>
HWY_INLINE void MultiTokenGroup(const Rows& w, int64_t c0, int64_t c1, const Activations& a,
                                int64_t r, int64_t r_end, int64_t t0, int64_t count, float* y,
                                int64_t y_stride, const ChunkSums& sums) {
  switch (count) {
    case 1:
      return MultiTokenRows<1>(w, c0, c1, a, r, r_end, t0, y, y_stride, sums);
    case 2:
      return MultiTokenRows<2>(w, c0, c1, a, r, r_end, t0, y, y_stride, sums);
    case 3:
      return MultiTokenRows<3>(w, c0, c1, a, r, r_end, t0, y, y_stride, sums);
    default:
      return MultiTokenRows<4>(w, c0, c1, a, r, r_end, t0, y, y_stride, sums);
  }
}

// One or two tokens.
template <int kRows, class Rows>
HWY_INLINE void TokenGroup(const Rows& w, int64_t c0, int64_t c1, const Activations& a, int64_t r,
                           int64_t count, float* y, int64_t y_stride) {
  if (count == 1) return RowBlock<kRows, 1>(w, c0, c1, a, r, 0, y, y_stride);
  return RowBlock<kRows, 2>(w, c0, c1, a, r, 0, y, y_stride);
}

// Rows are taken kGemvRowChunk at a time and, past two tokens, their columns in
// blocks whose activations (for the up to four tokens of a group) fit in
// 16 KiB, so each block of x is read from L1 by every row of the chunk
// rather than from L2 by every row.
constexpr int64_t kBlockFloats = 4096;
constexpr int64_t kGemvPairRowBytes = 512;
// Groups of at most four tokens, each decoding the chunk's weights again
// (from L1 or L2): with the weights in L2 (FP8 512 x 7168, one thread,
// Zen 5), groups of up to eight ran 8 tokens at 5.7 GB/s, 12 at 3.8 and 6 at
// 7.9; groups of four at 9.8, 6.4 and 11.7, four tokens level (18.6). Eight
// tokens in one group had two rows of sixteen accumulators, and a block's
// prologue and epilogue (its partial sums loaded and stored) came every
// sixteen steps of 32 FMAs.
constexpr int64_t kMaxGroupTokens = 4;

// Rows [begin, end) of y for every token.
template <class Rows>
void RunRows(const Rows& w, int64_t begin, int64_t end, int64_t cols, const Activations& a,
             int64_t tokens, float* y) {
  const int64_t rows = w.rows;
  const int64_t granule = w.Granule();
  // Tokens are split into as few groups of at most four as there can be,
  // of even sizes; each group decodes the weights once.
  const int64_t groups = (tokens + kMaxGroupTokens - 1) / kMaxGroupTokens;
  const int64_t group_tokens = (tokens + groups - 1) / groups;
  const int64_t target = kBlockFloats / group_tokens;
  // One or two tokens read little of x per weight byte, and whole rows keep
  // the weight streams long for the prefetchers.
  const int64_t block = tokens <= 2 ? cols : std::max<int64_t>(1, target / granule) * granule;
  thread_local std::vector<float> partial, extra;
  if (tokens > 2) {
    partial.resize(static_cast<size_t>(kGemvRowChunk * tokens * hn::Lanes(DF())));
    extra.resize(static_cast<size_t>(kGemvRowChunk * tokens));
  }
  for (int64_t chunk = begin; chunk < end; chunk += kGemvRowChunk) {
    const int64_t chunk_end = std::min(end, chunk + kGemvRowChunk);
    for (int64_t c0 = 0; c0 < cols; c0 += block) {
      const int64_t c1 = std::min(cols, c0 + block);
      if (tokens > 2) {
        const ChunkSums sums{partial.data(), extra.data(), chunk, tokens, c0 == 0, c1 == cols};
        for (int64_t t0 = 0, g = 0; g < groups; ++g) {
          const int64_t count = (tokens - t0) / (groups - g);
          MultiTokenGroup(w, c0, c1, a, chunk, chunk_end, t0, count, y, rows, sums);
          t0 += count;
        }
        continue;
      }
      // Several rows at once give one or two tokens enough independent
      // work and more weight streams in flight. Rows of at most 512 bytes
      // go two at a time: with FP8 kv_b_proj's 512-column rows, pairs were
      // 7-8% faster than blocks of four in alternating calls on 1 and 2
      // threads, while 1536-byte and longer rows were 3-9% slower in pairs
      // and blocks of eight were slower on every row shorter than 7168.
      int64_t r = chunk;
      if (tokens == 1 && w.RowBytes() > kGemvPairRowBytes) {
        for (; r + 4 <= chunk_end; r += 4) RowBlock<4, 1>(w, c0, c1, a, r, 0, y, rows);
      }
      for (; r + 2 <= chunk_end; r += 2) TokenGroup<2>(w, c0, c1, a, r, tokens, y, rows);
      for (; r < chunk_end; ++r) TokenGroup<1>(w, c0, c1, a, r, tokens, y, rows);
    }
  }
}

template <class Rows>
void Run(const Rows& w, int64_t rows, int64_t cols, const Activations& a, int64_t tokens, float* y,
         ThreadPool* pool) {
  ForGemvRows(rows, pool,
              [&](int64_t begin, int64_t end) { RunRows(w, begin, end, cols, a, tokens, y); });
}

// x scaled by row r's block scales (with the factor the decode leaves out)
// into `scaled`, column block by column block.
template <class Rows>
void ScaleForRow(const Rows& w, const QuantMatrix& m, const float* x, int64_t tokens, int64_t r,
                 float* scaled) {
  const int64_t cols = m.cols;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* xt = x + t * cols;
    float* out = scaled + t * cols;
    for (int64_t c0 = 0, seg = 0; c0 < cols; c0 += m.block_cols, ++seg) {
      const float s = w.BlockScale(r, seg);
      const int64_t c1 = std::min(cols, c0 + m.block_cols);
      for (int64_t c = c0; c < c1; ++c) out[c] = xt[c] * s;
    }
  }
}

// The activations as Fp8F32BitsRows reads them (before scaling), and the
// largest |x| of each token's column block, which tells the row blocks
// whose scales would overflow them by 2^120. Kept per thread, so calls
// reuse the memory.
struct Fp8F32BitsActivations {
  std::vector<float> ordered;  // [tokens][cols]
  std::vector<float> max_abs;  // [tokens][scale_cols]

  void Fill(const QuantMatrix& m, const float* x, int64_t tokens) {
    const DF df;
    const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
    const int64_t cols = m.cols;
    const int64_t step = Fp8F32BitsStep(df);
    const int64_t segs = m.scale_cols();
    ordered.resize(static_cast<size_t>(tokens * cols));
    max_abs.resize(static_cast<size_t>(tokens * segs));
    for (int64_t t = 0; t < tokens; ++t) {
      const float* xt = x + t * cols;
      float* out = ordered.data() + t * cols;
      int64_t c = 0;
      for (; c + step <= cols; c += step) Fp8F32BitsOrder(df, xt + c, out + c);
      std::copy(xt + c, xt + cols, out + c);
      for (int64_t seg = 0; seg < segs; ++seg) {
        const int64_t c1 = std::min(cols, (seg + 1) * m.block_cols);
        VF vmax = hn::Zero(df);
        for (c = seg * m.block_cols; c + lanes <= c1; c += lanes) {
          vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, xt + c)));
        }
        float seg_max = hn::GetLane(hn::MaxOfLanes(df, vmax));
        for (; c < c1; ++c) seg_max = std::max(seg_max, std::abs(xt[c]));
        max_abs[static_cast<size_t>(t * segs + seg)] = seg_max;
      }
    }
  }

  // Whether x times row r's block scales, times 2^120, stays finite where x
  // is (kFp8F32BitsMaxScaled). Infinite and NaN activations give the same
  // sums on either decode.
  bool FitsRow(const QuantMatrix& m, int64_t tokens, int64_t r) const {
    const int64_t segs = m.scale_cols();
    const float* s = m.scales + (r / m.block_rows) * segs;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t seg = 0; seg < segs; ++seg) {
        if (!(max_abs[static_cast<size_t>(t * segs + seg)] * std::abs(s[seg]) <
              kFp8F32BitsMaxScaled)) {
          return false;
        }
      }
    }
    return true;
  }
};

// FP8 with the block scales folded into the activations. Rows of one block
// of rows share a row of block scales, so each worker scales x by it once
// per block of rows (tokens * cols multiplies per block_rows * cols weight
// bytes) and runs the block's rows over the scaled copy, without a scale in
// the loop. The sums round differently from scaling each segment's sum, to
// f32 rounding. With `f32_bits` a block of rows runs on Fp8F32BitsRows
// where it can: blocks whose columns are whole steps of it, on threads that
// keep subnormals (each worker checks its own), whose scaled activations
// stay finite; elsewhere on Fp8Rows.
template <bool kTable>
void RunFp8Prescaled(const QuantMatrix& m, const float* x, int64_t tokens, float* y,
                     ThreadPool* pool, bool f32_bits) {
  const Fp8Rows<kTable> w(m);
  const Fp8F32BitsRows w_bits(m);
  const int64_t cols = m.cols;
  f32_bits = f32_bits && kHasFp8F32Bits && m.block_cols % Fp8F32BitsStep(DF()) == 0;
  thread_local Fp8F32BitsActivations caller_bits_x;
  Fp8F32BitsActivations& bits_x = caller_bits_x;  // the workers read the caller's
  if (f32_bits) bits_x.Fill(m, x, tokens);
  ForGemvRows(m.rows, pool, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scaled;
    scaled.resize(static_cast<size_t>(tokens * cols));
    const Activations a{scaled.data(), cols, nullptr, 0};
    const bool bits_here = f32_bits && !FlushesSubnormalInputs();
    for (int64_t r = begin; r < end;) {
      const int64_t block_end = std::min(end, (r / m.block_rows + 1) * m.block_rows);
      if constexpr (kHasFp8F32Bits) {
        if (bits_here && bits_x.FitsRow(m, tokens, r)) {
          ScaleForRow(w_bits, m, bits_x.ordered.data(), tokens, r, scaled.data());
          RunRows(w_bits, r, block_end, cols, a, tokens, y);
          r = block_end;
          continue;
        }
      }
      ScaleForRow(w, m, x, tokens, r, scaled.data());
      RunRows(w, r, block_end, cols, a, tokens, y);
      r = block_end;
    }
  });
}

// INT4 for one or two tokens: pointers walk each row a 16-byte chunk (32
// weights) at a time and each row's scale is read once per group, so the
// loop body is the decode and the FMAs, with no per-step index arithmetic
// (which on this format costs as much as the decode). The sums are those of
// RowBlock, term for term.
// kGroupChunks is the group's size in chunks when known at compile time (the
// common groups, 32 and 128), else 0.
template <int kRows, int kTokens, int kGroupChunks>
HWY_INLINE void Int4RowBlock(const Int4Rows& w, const Activations& a, int64_t r0, float* y,
                             int64_t y_stride) {
  const DF df;
  constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(DF()));
  const int64_t chunks = w.row_bytes / kInt4ChunkBytes;
  const int64_t group_chunks = kGroupChunks ? kGroupChunks : w.group / kInt4Chunk;
  const uint8_t* row[kRows];
  const float* scale[kRows];
  for (int i = 0; i < kRows; ++i) {
    row[i] = w.packed + (r0 + i) * w.row_bytes;
    scale[i] = w.scales + (r0 + i) * w.groups;
  }
  GemvStreamPrefetch prefetch(w.packed, w.row_bytes, w.rows, r0, kRows,
                              chunks * (kInt4ChunkBytes / kLanes));
  VF a0[kRows][kTokens], a1[kRows][kTokens];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) a0[i][t] = a1[i][t] = hn::Zero(df);
  }
  for (int64_t g = 0, c = 0; g < w.groups; ++g) {
    const int64_t group_end = std::min(chunks, c + group_chunks);
    for (; c < group_end; ++c) {
      // A chunk is 16 / lanes steps: bytes j.. hold columns j.. (low nibbles)
      // and 16 + j.. (high nibbles) of the chunk's 32.
      for (int64_t j = 0; j < kInt4ChunkBytes; j += kLanes) {
        const int64_t byte = c * kInt4ChunkBytes + j;
        const int64_t col = c * kInt4Chunk + j;
        VF x0[kTokens], x1[kTokens];
        for (int t = 0; t < kTokens; ++t) {
          const float* xt = a.x + t * a.stride + col;
          x0[t] = hn::LoadU(df, xt);
          x1[t] = hn::LoadU(df, xt + kInt4ChunkBytes);
        }
        prefetch.Step();
        for (int i = 0; i < kRows; ++i) {
          VF lo, hi;
          DecodeInt4(df, row[i] + byte, scale[i][g], &lo, &hi);
          for (int t = 0; t < kTokens; ++t) {
            a0[i][t] = hn::MulAdd(lo, x0[t], a0[i][t]);
            a1[i][t] = hn::MulAdd(hi, x1[t], a1[i][t]);
          }
        }
      }
    }
  }
  VF acc[kRows][kTokens];
  float extra[kRows][kTokens];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      acc[i][t] = hn::Add(a0[i][t], a1[i][t]);
      extra[i][t] = 0.0f;
    }
  }
  StoreSums(w, acc, extra, 0, a, r0, 0, y, y_stride);
}

template <int kTokens, int kGroupChunks>
void RunInt4FewTokens(const Int4Rows& w, const Activations& a, float* y, ThreadPool* pool) {
  auto body = [&](int64_t begin, int64_t end) {
    int64_t r = begin;
    if (kTokens == 1) {
      for (; r + 4 <= end; r += 4) Int4RowBlock<4, kTokens, kGroupChunks>(w, a, r, y, w.rows);
    }
    for (; r + 2 <= end; r += 2) Int4RowBlock<2, kTokens, kGroupChunks>(w, a, r, y, w.rows);
    for (; r < end; ++r) Int4RowBlock<1, kTokens, kGroupChunks>(w, a, r, y, w.rows);
  };
  ForGemvRows(w.rows, pool, body);
}

template <int kTokens>
void RunInt4FewTokens(const Int4Rows& w, const Activations& a, float* y, ThreadPool* pool) {
  switch (w.group) {
    case 32:
      return RunInt4FewTokens<kTokens, 1>(w, a, y, pool);
    case 128:
      return RunInt4FewTokens<kTokens, 4>(w, a, y, pool);
    default:
      return RunInt4FewTokens<kTokens, 0>(w, a, y, pool);
  }
}

}  // namespace

// DecodeFp8F32Bits against DecodeFp8Bits, on one core of an AMD EPYC family
// 25 model 1 (Zen 3) with the weights in L2: 18 GB/s against 11, whose two
// VCVTPH2PS ymm per 16 codes run at one per two cycles there. On Intel's
// AVX2 cores the conversion is not the bottleneck, and an f32 subnormal
// operand (a subnormal code) may cost a microcode assist; unmeasured, they
// keep DecodeFp8Bits, as do the AVX-512 targets.
bool TargetPrefersFp8F32Bits() { return HWY_TARGET == HWY_AVX2; }

// Columns per step of DecodeFp8F32Bits on this target, 0 where it has none.
int64_t Fp8F32BitsStepImpl() { return kHasFp8F32Bits ? Fp8F32BitsStep(DF()) : 0; }

void MatVecImpl(const QuantMatrix& m, const float* x, int64_t tokens, float* y, ThreadPool* pool,
                Fp8Decode fp8_decode) {
  Activations a{x, m.cols, nullptr, 0};
  switch (m.format) {
    case WeightFormat::kF32:
      return Run(F32Rows(m), m.rows, m.cols, a, tokens, y, pool);
    case WeightFormat::kBF16:
      return Run(BF16Rows(m), m.rows, m.cols, a, tokens, y, pool);
    case WeightFormat::kFp8Block:
      if (fp8_decode == Fp8Decode::kTable) {
        return RunFp8Prescaled<true>(m, x, tokens, y, pool, false);
      }
      return RunFp8Prescaled<false>(m, x, tokens, y, pool, fp8_decode == Fp8Decode::kF32Bits);
    case WeightFormat::kInt4: {
      const Int4Rows w(m);
      // Zero-padded activations and their per-group sums.
      const int64_t stride = w.row_bytes * 2;
      std::vector<float> padded(static_cast<size_t>(tokens * stride), 0.0f);
      std::vector<float> sums(static_cast<size_t>(tokens * w.groups), 0.0f);
      for (int64_t t = 0; t < tokens; ++t) {
        const float* xt = x + t * m.cols;
        std::copy(xt, xt + m.cols, padded.begin() + t * stride);
        for (int64_t g = 0; g < w.groups; ++g) {
          float sum = 0.0f;
          for (int64_t c = g * w.group; c < std::min(m.cols, (g + 1) * w.group); ++c) sum += xt[c];
          sums[static_cast<size_t>(t * w.groups + g)] = sum;
        }
      }
      const Activations ai{padded.data(), stride, sums.data(), w.groups};
      if (tokens == 1) return RunInt4FewTokens<1>(w, ai, y, pool);
      if (tokens == 2) return RunInt4FewTokens<2>(w, ai, y, pool);
      return Run(w, m.rows, m.cols, ai, tokens, y, pool);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(MatVecImpl);
HWY_EXPORT(TargetPrefersFp8F32Bits);
HWY_EXPORT(Fp8F32BitsStepImpl);

namespace {

bool CpuIsAmd() {
#if HWY_ARCH_X86
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
  // "AuthenticAMD", as EBX, EDX, ECX.
  return ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u;
#else
  return false;
#endif
}

}  // namespace

void MatVec(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
            Fp8Decode fp8_decode, Int4Dot int4_dot) {
  if (tokens <= 0 || w.rows <= 0) return;
  if (w.cols <= 0) {
    std::fill(y, y + tokens * w.rows, 0.0f);
    return;
  }
  if (w.format == WeightFormat::kInt4 && int4_dot == Int4Dot::kInt8 &&
      MatVecInt4Int8(w, x, tokens, y, pool)) {
    return;
  }
  if (w.format == WeightFormat::kFp8Block &&
      (fp8_decode == Fp8Decode::kBf16Dot || fp8_decode == Fp8Decode::kBf16Split) &&
      MatVecFp8Bf16(w, x, tokens, y, pool, fp8_decode == Fp8Decode::kBf16Split)) {
    return;
  }
  if (w.format == WeightFormat::kFp8Block && fp8_decode == Fp8Decode::kF32Bits &&
      MatVecFp8F32Bits(w, x, tokens, y, pool)) {
    return;
  }
  HWY_DYNAMIC_DISPATCH(MatVecImpl)
  (w, x, tokens, y, pool, fp8_decode == Fp8Decode::kTable ? Fp8Decode::kTable : Fp8Decode::kBits);
}

bool MatVecFp8F32Bits(const QuantMatrix& w, const float* x, int64_t tokens, float* y,
                      ThreadPool* pool) {
  if (w.format != WeightFormat::kFp8Block || tokens <= 0 || w.rows <= 0 || w.cols <= 0) {
    return false;
  }
  const int64_t step = HWY_DYNAMIC_DISPATCH(Fp8F32BitsStepImpl)();
  if (step == 0 || w.block_cols % step != 0 || FlushesSubnormalInputs()) return false;
  HWY_DYNAMIC_DISPATCH(MatVecImpl)(w, x, tokens, y, pool, Fp8Decode::kF32Bits);
  return true;
}

bool Fp8F32BitsPays() {
  static const bool amd = CpuIsAmd();
  // Not cached: tests narrow the targets Highway dispatches to.
  return amd && HWY_DYNAMIC_DISPATCH(TargetPrefersFp8F32Bits)();
}

}  // namespace dsv32
#endif  // HWY_ONCE
