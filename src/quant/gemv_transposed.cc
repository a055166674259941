// MatVecTransposed: y = W^T x, the product MLA's absorbed decode needs with
// each head's slice of kv_b_proj (W_kb^T q). The weights stream once, a block
// of rows at a time; each row is decoded straight into registers and added,
// times its x, into one segment of y held in accumulators, so the block's
// bytes (8 KiB of FP8 at V3.2's 512 columns) stay in L1 while the segments
// pass over them.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "quant/gemv_rows.h"
#include "quant/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/gemv_transposed.cc"
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/decode-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

// Accumulator vectors per segment of y: 8 (128 columns of f32 on AVX-512)
// leave room for the decoded weights in 16 registers too.
constexpr int kSegmentVectors = 8;
// Rows per block: 16 rows of 512 FP8 codes are 8 KiB.
constexpr int64_t kRowBlock = 16;

// Each row's bytes of a segment are requested this many rows ahead, spread
// over the loop as MatVec does (a burst of requests per block fills the
// line buffers and stalls): 16 KiB ahead at V3.2's 512 FP8 columns.
constexpr int64_t kRowsAhead = 2 * kRowBlock;

HWY_INLINE void PrefetchBytes(const void* p, int64_t bytes) {
  if (!p) return;
  for (int64_t b = 0; b < bytes; b += 64) hwy::Prefetch(static_cast<const uint8_t*>(p) + b);
}

// One segment of y, V vectors lying inside one block of scales:
// y[c] += sum over rows [r0, r1) of x_r * W[r][c], where decode(r, w, V)
// fills w with the row's weights there and returns x_r (times whatever
// factor the decoded weights leave out). `first` writes instead of adding.
// V is a constant so that the accumulators live in registers.
template <int V, class Decode>
HWY_INLINE void SegmentOverRows(DF df, int64_t r0, int64_t r1, const Decode& decode, bool first,
                                float* HWY_RESTRICT y) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF acc[V];
  for (int j = 0; j < V; ++j) acc[j] = first ? hn::Zero(df) : hn::LoadU(df, y + j * lanes);
  for (int64_t r = r0; r < r1; ++r) {
    VF w[V];
    const VF xv = hn::Set(df, decode(r, w, std::integral_constant<int, V>()));
    for (int j = 0; j < V; ++j) acc[j] = hn::MulAdd(xv, w[j], acc[j]);
  }
  for (int j = 0; j < V; ++j) hn::StoreU(acc[j], df, y + j * lanes);
}

HWY_INLINE VF LoadAsF32(DF df, const float* HWY_RESTRICT p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadAsF32(DF df, const uint16_t* HWY_RESTRICT p) { return DecodeBF16(df, p); }

// SegmentOverRows for `vectors` (even, at most kSegmentVectors) vectors.
template <class Decode>
HWY_INLINE void Segment(DF df, int vectors, int64_t r0, int64_t r1, const Decode& decode,
                        bool first, float* HWY_RESTRICT y) {
  switch (vectors) {
    case 8:
      return SegmentOverRows<8>(df, r0, r1, decode, first, y);
    case 6:
      return SegmentOverRows<6>(df, r0, r1, decode, first, y);
    case 4:
      return SegmentOverRows<4>(df, r0, r1, decode, first, y);
    default:
      return SegmentOverRows<2>(df, r0, r1, decode, first, y);
  }
}

// Whether FP8 `m` can run on DecodeFp8F32Bits: rows of whole steps and
// blocks of scales that are too (so no segment splits a step), a thread that
// keeps subnormals, and x times every scale times 2^120 finite (bounded by
// max |x| times max |scale|).
bool Fp8F32BitsFits(DF df, const QuantMatrix& m, const float* x) {
  const int64_t step = Fp8F32BitsStep(df);
  if (!kHasFp8F32Bits || m.cols % step != 0 || m.block_cols % step != 0 ||
      FlushesSubnormalInputs()) {
    return false;
  }
  float x_max = 0.0f, scale_max = 0.0f;
  for (int64_t r = 0; r < m.rows; ++r) x_max = std::max(x_max, std::abs(x[r]));
  for (int64_t i = 0; i < m.scale_rows() * m.scale_cols(); ++i) {
    scale_max = std::max(scale_max, std::abs(m.scales[i]));
  }
  return x_max * scale_max < kFp8F32BitsMaxScaled;
}

}  // namespace

void MatVecTransposedImpl(const QuantMatrix& m, const float* x, float* y, bool f32_bits) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t cols = m.cols;
  // With the f32-bits decode each step of y is summed in its lane order
  // (lane L of vector j is column 4 L + j) and put back in order at the end.
  f32_bits = f32_bits && m.format == WeightFormat::kFp8Block && Fp8F32BitsFits(df, m, x);
  const int64_t element_bytes = m.format == WeightFormat::kF32    ? 4
                                : m.format == WeightFormat::kBF16 ? 2
                                                                  : 1;
  // Column c of the row kRowsAhead past r, if there is one.
  auto ahead = [&](int64_t r, int64_t c) -> const uint8_t* {
    if (r + kRowsAhead >= m.rows) return nullptr;
    return static_cast<const uint8_t*>(m.data) + ((r + kRowsAhead) * cols + c) * element_bytes;
  };
  // Segments end at blocks of scales (FP8) and hold whole pairs of vectors
  // (the FP8 decoder's unit); the columns left over at the end of a block
  // are summed one by one from the rows dequantized.
  const int64_t block_cols = m.format == WeightFormat::kFp8Block ? m.block_cols : cols;
  const int64_t segment_cols = kSegmentVectors * lanes;
  bool leftover_columns = false;
  for (int64_t b0 = 0; b0 < cols; b0 += block_cols) {
    leftover_columns =
        leftover_columns || (std::min(cols, b0 + block_cols) - b0) % (2 * lanes) != 0;
  }
  // INT4 rows decode in whole chunks; they are summed as f32 rows
  // dequantized, as are the leftover columns of the other formats.
  const bool dequantize = m.format == WeightFormat::kInt4 || leftover_columns;
  std::vector<float> dequantized(dequantize ? static_cast<size_t>(kRowBlock * cols) : 0);
  float x_scaled[kRowBlock];
  for (int64_t r0 = 0; r0 < m.rows; r0 += kRowBlock) {
    const int64_t r1 = std::min(m.rows, r0 + kRowBlock);
    const bool first = r0 == 0;
    if (dequantize) DequantizeRows(m, r0, r1 - r0, dequantized.data());
    if (m.format == WeightFormat::kInt4) {
      if (first) std::fill(y, y + cols, 0.0f);
      for (int64_t r = r0; r < r1; ++r) {
        const VF xv = hn::Set(df, x[r]);
        const float* row = &dequantized[static_cast<size_t>((r - r0) * cols)];
        int64_t c = 0;
        for (; c + lanes <= cols; c += lanes) {
          hn::StoreU(hn::MulAdd(xv, hn::LoadU(df, row + c), hn::LoadU(df, y + c)), df, y + c);
        }
        for (; c < cols; ++c) y[c] += x[r] * row[c];
      }
      continue;
    }
    for (int64_t b0 = 0; b0 < cols; b0 += block_cols) {
      const int64_t b1 = std::min(cols, b0 + block_cols);
      const int64_t vector_end = b0 + (b1 - b0) / (2 * lanes) * (2 * lanes);
      if (m.format == WeightFormat::kFp8Block) {
        // x times each row's scale in this block of columns, and the factor
        // the decoder leaves out.
        const float left_out = f32_bits ? kFp8F32BitsScale : kFp8BitsScale;
        for (int64_t r = r0; r < r1; ++r) {
          x_scaled[static_cast<size_t>(r - r0)] =
              x[r] * m.scales[(r / m.block_rows) * m.scale_cols() + b0 / m.block_cols] * left_out;
        }
      }
      for (int64_t c0 = b0; c0 < vector_end; c0 += segment_cols) {
        const int vectors = static_cast<int>(std::min(segment_cols, vector_end - c0) / lanes);
        // F32 and BF16 rows, src at column c0 of row 0: no scales.
        auto plain_segment = [&](const auto* src) {
          Segment(
              df, vectors, r0, r1,
              [&](int64_t r, VF* w, auto v) {
                PrefetchBytes(ahead(r, c0), static_cast<int64_t>(sizeof(*src)) * v * lanes);
                for (int j = 0; j < v; ++j) w[j] = LoadAsF32(df, src + r * cols + j * lanes);
                return x[r];
              },
              first, y + c0);
        };
        switch (m.format) {
          case WeightFormat::kF32:
            plain_segment(static_cast<const float*>(m.data) + c0);
            break;
          case WeightFormat::kBF16:
            plain_segment(static_cast<const uint16_t*>(m.data) + c0);
            break;
          case WeightFormat::kFp8Block: {
            const uint8_t* src = static_cast<const uint8_t*>(m.data) + c0;
            Segment(
                df, vectors, r0, r1,
                [&](int64_t r, VF* w, auto v) {
                  PrefetchBytes(ahead(r, c0), v * lanes);
#if HWY_TARGET != HWY_SCALAR
                  // Segments of whole steps: Fp8F32BitsFits.
                  if constexpr (decltype(v)::value % 4 == 0) {
                    if (f32_bits) {
                      for (int j = 0; j < v; j += 4) {
                        DecodeFp8F32Bits(df, src + r * cols + j * lanes, &w[j]);
                      }
                      return x_scaled[static_cast<size_t>(r - r0)];
                    }
                  }
#endif
                  for (int j = 0; j < v; j += 2) {
                    DecodeFp8Bits(df, src + r * cols + j * lanes, &w[j], &w[j + 1]);
                  }
                  return x_scaled[static_cast<size_t>(r - r0)];
                },
                first, y + c0);
            break;
          }
          case WeightFormat::kInt4:
            break;
        }
      }
      // Columns of this block that make no whole pair of vectors.
      for (int64_t c = vector_end; c < b1; ++c) {
        float sum = first ? 0.0f : y[c];
        for (int64_t r = r0; r < r1; ++r) {
          sum += x[r] * dequantized[static_cast<size_t>((r - r0) * cols + c)];
        }
        y[c] = sum;
      }
    }
  }
  if (f32_bits) {
    for (int64_t c = 0; c < cols; c += Fp8F32BitsStep(df)) Fp8F32BitsRestoreOrder(df, y + c);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(MatVecTransposedImpl);

void MatVecTransposed(const QuantMatrix& w, const float* x, float* y, Fp8Decode fp8_decode) {
  if (w.cols <= 0) return;
  if (w.rows <= 0) {
    std::fill(y, y + w.cols, 0.0f);
    return;
  }
  HWY_DYNAMIC_DISPATCH(MatVecTransposedImpl)(w, x, y, fp8_decode == Fp8Decode::kF32Bits);
}

}  // namespace dsv32
#endif  // HWY_ONCE
