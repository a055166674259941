// MatMulTiled: the prefill kernel. The activations are packed once into
// panels of kNV * Lanes tokens ([k][token]); each worker then takes tiles of
// weight rows, dequantizes a block of columns of a tile to f32 (once), and runs a
// register-blocked kernel over every panel: kMR weights broadcast against kNV
// vectors of tokens, kMR x kNV accumulators that live in registers for the
// whole column block. Partial sums stay in a [row][token] buffer per slab of
// tiles and are written to y transposed at the end of the slab.
// The fast mode's variant (GemmPrecision::kBf16) rounds the dequantized tile
// and the packed tokens to bf16 pairs of columns and runs the same blocking
// on VDPBF16PS, two columns per step.
#include <algorithm>
#include <atomic>
#include <functional>
#include <new>
#include <vector>

#include "core/scratch.h"
#include "core/thread_pool.h"
#include "quant/int4.h"
#include "quant/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/gemm.cc"
#include "hwy/aligned_allocator.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/decode-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

// The micro-kernel's shape. On AVX-512, 6 rows x 4 token vectors: 24
// accumulators, four token vectors and a broadcast in the 32 registers, and
// per step 10 loads for 24 FMAs. It measured 1-7% faster than 14 x 2 (16
// loads for 28 FMAs) over pairs of runs timed back to back, at 128 and 512
// tokens. Targets with 16 registers take 6 x 2.
constexpr int kMR = 6;
#if HWY_TARGET <= HWY_AVX3
constexpr int kNV = 4;
#else
constexpr int kNV = 2;
#endif
constexpr int64_t kTileRows = 4 * kMR;
// Columns per dequantized block: a multiple of the 128-wide FP8 blocks and
// of the INT4 chunk, long enough that loading and storing the sums is rare
// next to the FMAs (256 measured a few percent faster than 128), and short
// enough that the block's slice of the packed tokens, which every tile of a
// slab reads, stays in L2 beside the sums. ColumnBlock picks it per call.
constexpr int64_t kMaxKC = 512;

// 512 columns while the slice is at most 512 KiB (256 tokens), else 256. In
// alternating calls of FP8 expert matmuls, 512 was 8-12% faster than 256 at
// 128 tokens (fewer passes over the sums, longer runs of each weight row to
// read) and level or a few percent slower at 512 tokens, where its slice
// would be 1 MiB; 1024 at 128 tokens was no faster than 512.
int64_t ColumnBlock(int64_t padded_tokens) { return padded_tokens <= 256 ? kMaxKC : 256; }

// Columns [c0, c0 + n) of FP8 row r, dequantized, block by block so each
// scale is looked up once: vec(c, w0, w1) for each whole pair of vectors
// from column c inside one scale block, scalar(c, value) for the rest.
template <class Vec, class Scalar>
HWY_INLINE void ForEachFp8Span(const QuantMatrix& m, int64_t r, int64_t c0, int64_t n,
                               const Vec& vec, const Scalar& scalar) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const uint8_t* src = static_cast<const uint8_t*>(m.data) + r * m.cols;
  const float* scales = m.scales + (r / m.block_rows) * m.scale_cols();
  const int64_t end = c0 + n;
  int64_t c = c0;
  for (int64_t b = c0 / m.block_cols; c < end; ++b) {
    const int64_t block_end = std::min(end, (b + 1) * m.block_cols);
    const VF s = hn::Set(df, scales[b] * kFp8BitsScale);
    for (; c + 2 * lanes <= block_end; c += 2 * lanes) {
      VF w0, w1;
      DecodeFp8Bits(df, src + c, &w0, &w1);
      vec(c, hn::Mul(w0, s), hn::Mul(w1, s));
    }
    for (; c < block_end; ++c) scalar(c, Fp8E4M3ToF32(src[c]) * scales[b]);
  }
}

// Writes columns [c0, c0 + n) of row r, dequantized, to out. Vectorized
// where a vector lies inside one scale block; scalar elsewhere.
void DequantizeSpan(const QuantMatrix& m, int64_t r, int64_t c0, int64_t n, float* out) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t c = c0;
  const int64_t end = c0 + n;
  switch (m.format) {
    case WeightFormat::kF32: {
      const float* src = static_cast<const float*>(m.data) + r * m.cols;
      std::copy(src + c0, src + end, out);
      return;
    }
    case WeightFormat::kBF16: {
      const uint16_t* src = static_cast<const uint16_t*>(m.data) + r * m.cols;
      for (; c + lanes <= end; c += lanes) hn::StoreU(DecodeBF16(df, src + c), df, out + c - c0);
      for (; c < end; ++c) out[c - c0] = BF16ToF32(src[c]);
      return;
    }
    case WeightFormat::kFp8Block:
      ForEachFp8Span(
          m, r, c0, n,
          [&](int64_t k, VF w0, VF w1) {
            hn::StoreU(w0, df, out + k - c0);
            hn::StoreU(w1, df, out + k + lanes - c0);
          },
          [&](int64_t k, float v) { out[k - c0] = v; });
      return;
    case WeightFormat::kInt4: {
      // c0 is a multiple of the column block and so of the chunk; whole chunks are
      // written, the padding as zeros, so `out` must have room up to the
      // next chunk boundary.
      const uint8_t* src = static_cast<const uint8_t*>(m.data) + r * Int4RowBytes(m.cols);
      const int64_t groups = m.scale_cols();
      int64_t g = r * groups + c0 / m.block_cols;
      for (int64_t group_end = (c0 / m.block_cols + 1) * m.block_cols; c < end; c += kInt4Chunk) {
        if (c >= group_end) {
          ++g;
          group_end += m.block_cols;
        }
        const float scale = m.scales[g];
        const VF offset = hn::Set(df, -scale * (m.zeros ? m.zeros[g] : kInt4SymmetricZero));
        for (int64_t sub = 0; sub < kInt4ChunkBytes; sub += lanes) {
          const Int4Step step = Int4StepAt(c + 2 * sub);
          VF lo, hi;
          DecodeInt4(df, src + step.byte, scale, &lo, &hi);
          hn::StoreU(hn::Add(lo, offset), df, out + step.lo - c0);
          hn::StoreU(hn::Add(hi, offset), df, out + step.hi - c0);
        }
      }
      return;
    }
  }
}

// Asks for the bytes behind columns [c0, c0 + n) of row r, to be read soon,
// into L2 only (prefetcht1 on x86). Requested into L1 as well (prefetcht0),
// the next tile's weights took twice as long to dequantize, 16% of an
// M = 128 matmul against 8%; the token panels that stream through L1 while
// the current tile computes likely push them out again before they are read.
void PrefetchSpan(const QuantMatrix& m, int64_t r, int64_t c0, int64_t n) {
  const uint8_t* base = static_cast<const uint8_t*>(m.data);
  const uint8_t* begin = nullptr;
  int64_t bytes = 0;
  switch (m.format) {
    case WeightFormat::kF32:
      begin = base + (r * m.cols + c0) * 4;
      bytes = n * 4;
      break;
    case WeightFormat::kBF16:
      begin = base + (r * m.cols + c0) * 2;
      bytes = n * 2;
      break;
    case WeightFormat::kFp8Block:
      begin = base + r * m.cols + c0;
      bytes = n;
      break;
    case WeightFormat::kInt4:
      begin = base + r * Int4RowBytes(m.cols) + c0 / 2;
      bytes = (n + 1) / 2;
      break;
  }
  for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(begin + b, /*rw=*/0, /*locality=*/2);
}

// c[i][0..NV * N) += sum_k w[i * w_stride + k] * xp[k * NV * N + 0..NV * N)
// for i < kMR; the first column block writes c instead, so it needs no
// clearing.
template <int NV>
HWY_INLINE void MicroKernel(const float* HWY_RESTRICT w, int64_t w_stride,
                            const float* HWY_RESTRICT xp, int64_t depth, bool first,
                            float* HWY_RESTRICT c, int64_t c_stride) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF acc[kMR][NV];
  for (int i = 0; i < kMR; ++i) {
    for (int j = 0; j < NV; ++j) {
      acc[i][j] = first ? hn::Zero(df) : hn::LoadU(df, c + i * c_stride + j * lanes);
    }
  }
  for (int64_t k = 0; k < depth; ++k) {
    VF xv[NV];
    for (int j = 0; j < NV; ++j) xv[j] = hn::LoadU(df, xp + (k * NV + j) * lanes);
    for (int i = 0; i < kMR; ++i) {
      const VF wv = hn::Set(df, w[i * w_stride + k]);
      for (int j = 0; j < NV; ++j) acc[i][j] = hn::MulAdd(wv, xv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kMR; ++i) {
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], df, c + i * c_stride + j * lanes);
  }
}

#if HWY_TARGET <= HWY_AVX3
// Transposes the 16 x 16 block in v: v[i] lane j becomes v[j] lane i.
HWY_INLINE void Transpose16x16(__m512 v[16]) {
  __m512 t[16];
  // Pairs of rows interleaved, then pairs of pairs: each 128-bit block of
  // v[4a + b] then holds column 4 * block + b of rows 4a..4a + 3.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    v[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    v[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    v[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Then the 4 x 4 blocks of 128 bits, in two rounds of block shuffles.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(v[i], v[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(v[i + 8], v[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    v[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    v[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}
#endif

// y[t * y_stride + r] = acc[r * acc_stride + t] for r < rows, t < tokens.
// acc_stride is a multiple of the vector width and at least `tokens`, so a
// last block of 16 tokens can be read whole. On AVX-512, 16 x 16 blocks are
// transposed in registers and y is written a line at a time, sixteen tokens'
// rows side by side from the first row to the last, so the stores walk
// forward through y's memory. Timed against the scalar copy it replaced in
// alternating calls, a 7168-row FP8 matmul (expert down_proj) was 4-6%
// faster at 128 and 512 tokens on 1 and 2 threads, a 2048-row one level:
// at 7168 rows y is larger than L2 and the copy waited on its stores.
void StoreTransposed(const float* HWY_RESTRICT acc, int64_t acc_stride, int64_t rows,
                     int64_t tokens, float* HWY_RESTRICT y, int64_t y_stride) {
  int64_t r0 = 0;
#if HWY_TARGET <= HWY_AVX3
  const int64_t vector_rows = rows / 16 * 16;
  for (int64_t t0 = 0; t0 < tokens; t0 += 16) {
    const int64_t n = std::min<int64_t>(16, tokens - t0);
    for (r0 = 0; r0 < vector_rows; r0 += 16) {
      __m512 v[16];
      for (int i = 0; i < 16; ++i) v[i] = _mm512_loadu_ps(acc + (r0 + i) * acc_stride + t0);
      Transpose16x16(v);
      for (int64_t j = 0; j < n; ++j) _mm512_storeu_ps(y + (t0 + j) * y_stride + r0, v[j]);
    }
  }
  r0 = vector_rows;
#endif
  // A few rows at a time, so the rows' lines of acc stay in L1 while t
  // walks along them.
  for (; r0 < rows; r0 += 16) {
    const int64_t r1 = std::min(rows, r0 + 16);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = r0; r < r1; ++r) y[t * y_stride + r] = acc[r * acc_stride + t];
    }
  }
}

// One panel of packed tokens: dst[k * width + j] = x[token0 + j][k] for
// k < cols, j < width, zero for tokens past `tokens`. On AVX-512, 16 tokens
// by 16 columns at a time through Transpose16x16, each store a whole line of
// dst. The element-by-element copy it replaced took 6-8% of an FP8 matmul
// with 7168 columns at 512 tokens (expert gate/up_proj), this 3%, about the
// time to read and write the activations once; in alternating calls the
// whole matmul was 2-5% faster at 128 and 512 tokens.
void PackPanel(const float* HWY_RESTRICT x, int64_t tokens, int64_t cols, int64_t token0,
               int64_t width, float* HWY_RESTRICT dst) {
  int64_t j0 = 0;
#if HWY_TARGET <= HWY_AVX3
  const int64_t vector_cols = cols / 16 * 16;
  for (; j0 + 16 <= width; j0 += 16) {
    const int64_t live = std::clamp<int64_t>(tokens - token0 - j0, 0, 16);
    // Only rows of x that exist are addressed.
    const float* src = live > 0 ? x + (token0 + j0) * cols : x;
    for (int64_t k0 = 0; k0 < vector_cols; k0 += 16) {
      __m512 v[16];
      for (int64_t i = 0; i < 16; ++i) {
        v[i] = i < live ? _mm512_loadu_ps(src + i * cols + k0) : _mm512_setzero_ps();
      }
      Transpose16x16(v);
      for (int64_t k = 0; k < 16; ++k) _mm512_storeu_ps(dst + (k0 + k) * width + j0, v[k]);
    }
    for (int64_t k = vector_cols; k < cols; ++k) {
      for (int64_t i = 0; i < 16; ++i)
        dst[k * width + j0 + i] = i < live ? src[i * cols + k] : 0.0f;
    }
  }
#endif
  // Elsewhere in blocks of columns, so reads and writes both stay in L1.
  constexpr int64_t kCopyBlock = 64;
  for (int64_t k0 = 0; j0 < width && k0 < cols; k0 += kCopyBlock) {
    const int64_t k1 = std::min(cols, k0 + kCopyBlock);
    for (int64_t j = j0; j < width; ++j) {
      const int64_t t = token0 + j;
      if (t < tokens) {
        const float* src = x + t * cols;
        for (int64_t k = k0; k < k1; ++k) dst[k * width + j] = src[k];
      } else {
        for (int64_t k = k0; k < k1; ++k) dst[k * width + j] = 0.0f;
      }
    }
  }
}

// A run of tokens packed as one panel: kNV vectors wide, or half that for a
// last panel that needs no more, so a short tail is not padded to a whole
// panel.
struct Panel {
  int64_t token0;
  int nv;
};

#if HWY_TARGET == HWY_AVX3_DL
// The bf16 form of the kernel (MatMulTiled's GemmPrecision::kBf16): weights
// and tokens rounded to bf16 and taken two columns at a time, each step a
// VDPBF16PS (DotBf16, decode-inl.h) that adds both columns' products into
// f32 sums, so a step does the work of two FMA steps with the same loads and
// registers.

// 16 floats to bf16, nearest even, as the low halves of 16 32-bit lanes.
HWY_INLINE __m512i Bf16Lanes(__m512 v) {
  __m256i h;
  asm("vcvtneps2bf16 %1, %0" : "=v"(h) : "v"(v));
  return _mm512_cvtepu16_epi32(h);
}

// The bf16 pairs of columns (2 k2, 2 k2 + 1) of f32 rows a and b, as 32-bit
// lanes: a's value in the low half.
HWY_INLINE __m512i Bf16Pairs(__m512 a, __m512 b) {
  return _mm512_or_si512(Bf16Lanes(a), _mm512_slli_epi32(Bf16Lanes(b), 16));
}

// A packed f32 panel ([k][width], `cols` rows) rewritten in place as bf16
// pairs ([k2][width] of 32-bit lanes, column 2 k2 low, 2 k2 + 1 high; a
// missing last column is zero). Row k2 of the result overwrites only rows
// before 2 k2 + 1, which have been read by then.
void PanelToBf16Pairs(float* panel, int64_t cols, int64_t width) {
  auto* out = reinterpret_cast<uint32_t*>(panel);
  for (int64_t k2 = 0; 2 * k2 < cols; ++k2) {
    const float* a = panel + 2 * k2 * width;
    const float* b = 2 * k2 + 1 < cols ? a + width : nullptr;
    for (int64_t j = 0; j < width; j += 16) {
      const __m512 va = _mm512_loadu_ps(a + j);
      const __m512 vb = b ? _mm512_loadu_ps(b + j) : _mm512_setzero_ps();
      _mm512_storeu_si512(out + k2 * width + j, Bf16Pairs(va, vb));
    }
  }
}

// Columns [c0, c0 + n) of row r, dequantized and rounded to bf16, in column
// order, which is MicroKernelBf16's pairs of columns (2 k2 in the low half);
// an odd n gets a zero after the last column to complete its pair. FP8 and
// BF16 go straight from the weights; F32 and INT4 through `scratch` (room
// for n floats plus an INT4 chunk). The values are DequantizeSpan's rounded
// to bf16; writing them straight into the tile, one VCVTNE2PS2BF16 per 32
// columns, saves storing, reloading and permuting a tile of floats.
void DequantizeSpanBf16(const QuantMatrix& m, int64_t r, int64_t c0, int64_t n, uint16_t* out,
                        float* scratch) {
  if (n % 2 != 0) out[n] = 0;
  switch (m.format) {
    case WeightFormat::kBF16: {
      const uint16_t* src = static_cast<const uint16_t*>(m.data) + r * m.cols;
      std::copy(src + c0, src + c0 + n, out);
      return;
    }
    case WeightFormat::kFp8Block:
      ForEachFp8Span(
          m, r, c0, n,
          [&](int64_t k, VF w0, VF w1) {
            _mm512_storeu_si512(out + k - c0, ToBf16(w0.raw, w1.raw));
          },
          [&](int64_t k, float v) { out[k - c0] = F32ToBF16(v); });
      return;
    case WeightFormat::kF32:
    case WeightFormat::kInt4: {
      DequantizeSpan(m, r, c0, n, scratch);
      int64_t k = 0;
      for (; k + 32 <= n; k += 32) {
        _mm512_storeu_si512(
            out + k, ToBf16(_mm512_loadu_ps(scratch + k), _mm512_loadu_ps(scratch + k + 16)));
      }
      for (; k < n; ++k) out[k] = F32ToBF16(scratch[k]);
      return;
    }
  }
}

// MicroKernel on bf16 pairs: c[i][..] += sum_k2 w pair (i, k2) . x pair (k2).
template <int NV>
HWY_INLINE void MicroKernelBf16(const uint32_t* HWY_RESTRICT w, int64_t w_stride,
                                const uint32_t* HWY_RESTRICT xp, int64_t pairs, bool first,
                                float* HWY_RESTRICT c, int64_t c_stride) {
  __m512 acc[kMR][NV];
  for (int i = 0; i < kMR; ++i) {
    for (int j = 0; j < NV; ++j) {
      acc[i][j] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c + i * c_stride + j * 16);
    }
  }
  for (int64_t k2 = 0; k2 < pairs; ++k2) {
    __m512i xv[NV];
    for (int j = 0; j < NV; ++j) xv[j] = _mm512_loadu_si512(xp + (k2 * NV + j) * 16);
    for (int i = 0; i < kMR; ++i) {
      const __m512i wv = _mm512_set1_epi32(static_cast<int>(w[i * w_stride + k2]));
      for (int j = 0; j < NV; ++j) acc[i][j] = DotBf16(acc[i][j], wv, xv[j]);
    }
  }
  for (int i = 0; i < kMR; ++i) {
    for (int j = 0; j < NV; ++j) _mm512_storeu_ps(c + i * c_stride + j * 16, acc[i][j]);
  }
}
#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace

void MatMulTiledImpl(const QuantMatrix& m, const float* x, int64_t tokens, float* y,
                     ThreadPool* pool, bool bf16) {
  // Only the AVX3_DL build has the bf16 kernel; the caller checked the CPU.
  bf16 = bf16 && kHasBf16Dot;
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t full_width = kNV * lanes;
  std::vector<Panel> panels;
  for (int64_t t = 0; t < tokens; t += full_width) {
    const bool half = kNV > 1 && tokens - t <= full_width / 2;
    panels.push_back({t, half ? kNV / 2 : kNV});
  }
  const int64_t padded_tokens = panels.back().token0 + panels.back().nv * lanes;
  const int64_t num_panels = static_cast<int64_t>(panels.size());
  const int64_t cols = m.cols;

  auto parallel = [&](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (pool && pool->size() > 1) {
      pool->ParallelFor(n, 1, fn);
    } else {
      fn(0, n);
    }
  };

  // Panel p holds xp[token0 * cols + k * width + j] = x[token0 + j][k], zero
  // for tokens past the end.
  thread_local ScratchFloats packed_tokens;
  ScratchTrim trim_packed(packed_tokens);
  float* const xp = packed_tokens.Get(static_cast<size_t>(padded_tokens * cols));
  if (!xp) throw std::bad_alloc();
  parallel(num_panels, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      PackPanel(x, tokens, cols, panels[p].token0, panels[p].nv * lanes,
                xp + panels[p].token0 * cols);
#if HWY_TARGET == HWY_AVX3_DL
      if (bf16) PanelToBf16Pairs(xp + panels[p].token0 * cols, cols, panels[p].nv * lanes);
#endif
    }
  });

  const int64_t tiles = (m.rows + kTileRows - 1) / kTileRows;
  const int64_t kc = ColumnBlock(padded_tokens);
  // Tiles are taken in slabs whose sums (`acc`) fit in about 1 MiB of L2.
  // Within a slab the column block is the outer loop, so its slice of the
  // packed tokens (kc x padded_tokens floats) stays in L2 while every tile
  // of the slab passes over it.
  // An even number of tiles (48 rows) keeps every slab's first row on a
  // multiple of 16, where StoreTransposed writes whole lines of y.
  const int64_t slab_tiles =
      std::max<int64_t>(1, (int64_t{1} << 20) / (kTileRows * padded_tokens * 4) / 2 * 2);
  // A worker cannot throw, so one that gets no memory says so here and the
  // caller throws once all have returned.
  std::atomic<bool> out_of_memory{false};
  parallel(tiles, [&](int64_t begin, int64_t end) {
    thread_local ScratchFloats sums, weights, weight_pairs;
    ScratchTrim trim_sums(sums);
    const int64_t acc_floats = std::min(slab_tiles, end - begin) * kTileRows * padded_tokens;
    float* const acc = sums.Get(static_cast<size_t>(acc_floats));
    // Room for a whole INT4 chunk past the last column.
    float* const wt = weights.Get(static_cast<size_t>(kTileRows * kMaxKC));
    // kBf16: the tile's rows as bf16 pairs (kc / 2 to a row).
    auto* const wt_pairs = reinterpret_cast<uint32_t*>(
        bf16 ? weight_pairs.Get(static_cast<size_t>(kTileRows * kMaxKC / 2)) : wt);
    if (!acc || !wt || !wt_pairs) {
      out_of_memory.store(true);
      return;
    }
    std::fill(wt, wt + kTileRows * kMaxKC, 0.0f);
    for (int64_t slab = begin; slab < end; slab += slab_tiles) {
      const int64_t slab_end = std::min(end, slab + slab_tiles);
      for (int64_t c0 = 0; c0 < cols; c0 += kc) {
        const int64_t depth = std::min(kc, cols - c0);
        for (int64_t tile = slab; tile < slab_end; ++tile) {
          const int64_t r0 = tile * kTileRows;
          const int64_t live_rows = std::min(kTileRows, m.rows - r0);
#if HWY_TARGET == HWY_AVX3_DL
          if (bf16) {
            auto* const rows_bf16 = reinterpret_cast<uint16_t*>(wt_pairs);
            for (int64_t i = 0; i < live_rows; ++i) {
              DequantizeSpanBf16(m, r0 + i, c0, depth, rows_bf16 + i * kc, wt);
            }
            std::fill(rows_bf16 + live_rows * kc, rows_bf16 + kTileRows * kc, uint16_t{0});
          }
#endif
          if (!bf16) {
            for (int64_t i = 0; i < live_rows; ++i) {
              DequantizeSpan(m, r0 + i, c0, depth, wt + i * kc);
            }
            // Rows past the matrix multiply as zeros.
            std::fill(wt + live_rows * kc, wt + kTileRows * kMaxKC, 0.0f);
          }
          // The next tile's weights arrive while this one computes; the jump
          // between rows defeats the hardware prefetchers.
          const int64_t next_rows = std::min(kTileRows, m.rows - r0 - kTileRows);
          for (int64_t i = 0; tile + 1 < slab_end && i < next_rows; ++i) {
            PrefetchSpan(m, r0 + kTileRows + i, c0, depth);
          }
          float* tile_acc = acc + (tile - slab) * kTileRows * padded_tokens;
#if HWY_TARGET == HWY_AVX3_DL
          if (bf16) {
            const int64_t pairs = (depth + 1) / 2;
            for (int64_t i = 0; i < kTileRows; i += kMR) {
              for (const Panel& p : panels) {
                const auto* panel_x =
                    reinterpret_cast<const uint32_t*>(xp + p.token0 * cols) + c0 / 2 * p.nv * lanes;
                float* panel_acc = tile_acc + i * padded_tokens + p.token0;
                const uint32_t* w_rows = wt_pairs + i * (kc / 2);
                if (p.nv == kNV) {
                  MicroKernelBf16<kNV>(w_rows, kc / 2, panel_x, pairs, c0 == 0, panel_acc,
                                       padded_tokens);
                } else {
                  MicroKernelBf16<kNV / 2>(w_rows, kc / 2, panel_x, pairs, c0 == 0, panel_acc,
                                           padded_tokens);
                }
              }
            }
            continue;
          }
#endif
          for (int64_t i = 0; i < kTileRows; i += kMR) {
            for (const Panel& p : panels) {
              const float* panel_x = xp + p.token0 * cols + c0 * p.nv * lanes;
              float* panel_acc = tile_acc + i * padded_tokens + p.token0;
              if (p.nv == kNV) {
                MicroKernel<kNV>(wt + i * kc, kc, panel_x, depth, c0 == 0, panel_acc,
                                 padded_tokens);
              } else {
                MicroKernel<kNV / 2>(wt + i * kc, kc, panel_x, depth, c0 == 0, panel_acc,
                                     padded_tokens);
              }
            }
          }
        }
      }
      const int64_t row_begin = slab * kTileRows;
      const int64_t row_end = std::min(m.rows, slab_end * kTileRows);
      StoreTransposed(acc, padded_tokens, row_end - row_begin, tokens, y + row_begin, m.rows);
    }
  });
  if (out_of_memory.load()) throw std::bad_alloc();
}

void DequantizeRowsImpl(const QuantMatrix& m, int64_t row0, int64_t count, float* out) {
  // DequantizeSpan writes INT4 in whole chunks; a row that ends inside one
  // goes through a buffer with room for it.
  const bool ragged = m.format == WeightFormat::kInt4 && m.cols % kInt4Chunk != 0;
  std::vector<float> row(ragged ? static_cast<size_t>(m.cols + kInt4Chunk) : 0);
  for (int64_t r = 0; r < count; ++r) {
    float* dst = out + r * m.cols;
    if (ragged) {
      DequantizeSpan(m, row0 + r, 0, m.cols, row.data());
      std::copy(row.begin(), row.begin() + m.cols, dst);
    } else {
      DequantizeSpan(m, row0 + r, 0, m.cols, dst);
    }
  }
}

const char* KernelTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(MatMulTiledImpl);
HWY_EXPORT(KernelTargetName);
HWY_EXPORT(DequantizeRowsImpl);

void DequantizeRows(const QuantMatrix& w, int64_t row0, int64_t count, float* out) {
  if (count <= 0 || w.cols <= 0) return;
  HWY_DYNAMIC_DISPATCH(DequantizeRowsImpl)(w, row0, count, out);
}

// Tokens per pass of MatMulTiledImpl. Its sums and its slice of the packed
// tokens grow with the tokens; past 512 they no longer fit in L2 together
// and the micro-kernels wait on L3. At 2048 tokens one pass ran FP8 expert
// matmuls at 0.44-0.54x OpenBLAS's speed; passes of 512 tokens each, which
// dequantize the weights again every pass (5% of a pass), run at 512's speed.
constexpr int64_t kMaxPassTokens = 512;

void MatMulTiled(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
                 GemmPrecision precision) {
  if (tokens <= 0 || w.rows <= 0) return;
  const bool bf16 = precision == GemmPrecision::kBf16 && Bf16DotAvailable();
  if (w.cols <= 0) {
    std::fill(y, y + tokens * w.rows, 0.0f);
    return;
  }
  // Passes of equal size, so 600 tokens are two of 300 rather than 512 and 88.
  const int64_t passes = (tokens + kMaxPassTokens - 1) / kMaxPassTokens;
  const int64_t per_pass = (tokens + passes - 1) / passes;
  for (int64_t t0 = 0; t0 < tokens; t0 += per_pass) {
    const int64_t n = std::min(per_pass, tokens - t0);
    HWY_DYNAMIC_DISPATCH(MatMulTiledImpl)(w, x + t0 * w.cols, n, y + t0 * w.rows, pool, bf16);
  }
}

const char* ChosenKernelTarget() { return HWY_DYNAMIC_DISPATCH(KernelTargetName)(); }

}  // namespace dsv32
#endif  // HWY_ONCE
