// FP8 GEMV on bf16 dot products: for the fast mode (QuantMatrix's
// bf16_activations), and in the default mode for one token, with the
// activations split into three bf16 parts (exact). E4M3 values have at most
// four significant bits and exponents well inside bf16's, so every code is
// exactly a bf16 number; two byte-table lookups (VPERMI2B, 128 entries, the
// low seven bits of the code) give its high and low bytes, and VDPBF16PS
// multiplies 32 of them into bf16 activations with f32 sums. Per 64 weights
// that is two lookups, a sign merge, two byte interleaves and two dot
// products, where the f32 path takes about twenty instructions. The only
// rounding is that of the block-scaled activations to bf16, and none when
// they are split (three dot products instead of one).
#include <algorithm>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/gemv_rows.h"
#include "quant/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/gemv_bf16dot.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/decode-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

#if HWY_TARGET == HWY_AVX3_DL
// Columns per step: one vector of codes.
constexpr int64_t kStep = 64;

// The high and low bytes of the bf16 bits of every E4M3 magnitude (codes
// 0..127), as the two 64-byte halves VPERMI2B picks from.
struct Fp8Bf16Tables {
  alignas(64) uint8_t hi[128];
  alignas(64) uint8_t lo[128];
};

const Fp8Bf16Tables& Tables() {
  static const Fp8Bf16Tables tables = [] {
    Fp8Bf16Tables t;
    for (int c = 0; c < 128; ++c) {
      // Exact: F32ToBF16 drops only zero bits from these values.
      const uint16_t bits = F32ToBF16(Fp8E4M3ToF32(static_cast<uint8_t>(c)));
      t.hi[c] = static_cast<uint8_t>(bits >> 8);
      t.lo[c] = static_cast<uint8_t>(bits & 0xff);
    }
    return t;
  }();
  return tables;
}

struct Decoder {
  __m512i hi0, hi1, lo0, lo1, sign;
  Decoder() {
    const Fp8Bf16Tables& t = Tables();
    hi0 = _mm512_load_si512(t.hi);
    hi1 = _mm512_load_si512(t.hi + 64);
    lo0 = _mm512_load_si512(t.lo);
    lo1 = _mm512_load_si512(t.lo + 64);
    sign = _mm512_set1_epi8(static_cast<char>(0x80));
  }
  // 64 codes as two vectors of 32 bf16 weights. The byte interleave works
  // within 128-bit lanes, so w0 holds codes 16j..16j+7 of each lane j and w1
  // codes 16j+8..16j+15; the activations are stored in the same order.
  HWY_INLINE void Decode(__m512i codes, __m512i* w0, __m512i* w1) const {
    __m512i hi = _mm512_permutex2var_epi8(hi0, codes, hi1);
    // hi | (codes & 0x80): the sign bit, which the lookup ignored.
    hi = _mm512_ternarylogic_epi32(hi, codes, sign, 0xf8);
    const __m512i lo = _mm512_permutex2var_epi8(lo0, codes, lo1);
    *w0 = _mm512_unpacklo_epi8(lo, hi);
    *w1 = _mm512_unpackhi_epi8(lo, hi);
  }
};

// The bf16 parts of 16 floats: one, v rounded to nearest even, or three,
// whose sum is exactly v: the first two keep eight significant bits each
// (truncated), the third the at most eight left. Each part times an E4M3
// value (four significant bits) is exact in f32. Parts below 2^-126, which
// VCVTNE2PS2BF16 and VDPBF16PS flush to zero, would need |v| < 2^-110.
template <int kParts>
HWY_INLINE void SplitBf16(__m512 v, __m512 (&parts)[kParts]) {
  if constexpr (kParts == 1) {
    parts[0] = v;
  } else {
    static_assert(kParts == 3);
    const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
    parts[0] = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), high));
    const __m512 rest = _mm512_sub_ps(v, parts[0]);
    parts[1] = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(rest), high));
    parts[2] = _mm512_sub_ps(rest, parts[1]);
  }
}

// One token's activations for one block of rows: x times the block scale of
// its columns as kParts bf16 parts (SplitBf16), in the decode's order. Each
// step of 64 columns takes kParts * 64 values, part by part, zero past the
// last column.
template <int kParts>
void ScaleActivations(const float* x, int64_t cols, const float* scales, int64_t block_cols,
                      uint16_t* out) {
  alignas(64) static constexpr uint16_t kFirstHalves[32] = {
      0,  1,  2,  3,  4,  5,  6,  7,  16, 17, 18, 19, 20, 21, 22, 23,
      32, 33, 34, 35, 36, 37, 38, 39, 48, 49, 50, 51, 52, 53, 54, 55};
  const __m512i first = _mm512_load_si512(kFirstHalves);
  const __m512i second = _mm512_add_epi16(first, _mm512_set1_epi16(8));
  for (int64_t c0 = 0; c0 < cols; c0 += kStep) {
    const __m512 s = _mm512_set1_ps(scales[c0 / block_cols]);
    __m512 v[4][kParts];
    for (int j = 0; j < 4; ++j) {
      const int64_t c = c0 + 16 * j;
      const int64_t n = std::clamp<int64_t>(cols - c, 0, 16);
      const __mmask16 live = static_cast<__mmask16>((1u << n) - 1);
      SplitBf16(_mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + std::min(c, cols - 1)), s), v[j]);
    }
    for (int p = 0; p < kParts; ++p) {
      const __m512i a = ToBf16(v[0][p], v[1][p]);  // columns 0..31 of the step
      const __m512i b = ToBf16(v[2][p], v[3][p]);  // columns 32..63
      uint16_t* dst = out + kParts * c0 + p * kStep;
      _mm512_storeu_si512(dst, _mm512_permutex2var_epi16(a, first, b));
      _mm512_storeu_si512(dst + 32, _mm512_permutex2var_epi16(a, second, b));
    }
  }
}

// The codes of columns [k, k + 64) of a row; past `valid` bytes, zeros
// (which decode to zero and meet zero activations).
template <bool kTail>
HWY_INLINE __m512i LoadCodes(const uint8_t* p, int64_t valid) {
  if constexpr (kTail) {
    return _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(valid)), p);
  } else {
    return _mm512_loadu_si512(p);
  }
}

// Sums of rows r0 .. r0 + kRows for tokens t0 .. t0 + kTokens over the
// scaled activations xs (a token's at xs + t * x_stride). One or two tokens
// keep two accumulators per row and token, so the dot products' latency
// stays hidden; more tokens have enough chains in their rows.
template <int kRows, int kTokens, int kParts>
HWY_INLINE void RowBlock(const QuantMatrix& m, const Decoder& dec, const uint16_t* xs,
                         int64_t x_stride, int64_t r0, int64_t t0, float* y) {
  constexpr int kChains = kTokens <= 2 ? 2 : 1;
  const auto* fp8 = static_cast<const uint8_t*>(m.data);
  const int64_t cols = m.cols;
  const uint8_t* row[kRows];
  for (int i = 0; i < kRows; ++i) row[i] = fp8 + (r0 + i) * cols;
  __m512 acc[kRows][kTokens][kChains];
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      for (int c = 0; c < kChains; ++c) acc[i][t][c] = _mm512_setzero_ps();
    }
  }
  // One core keeps too few misses in flight to stream at full speed alone,
  // so the next block of rows is requested as this one is read.
  GemvStreamPrefetch prefetch(fp8, cols, m.rows, r0, kRows, (cols + kStep - 1) / kStep);
  const auto step = [&](int64_t k, auto tail) {
    constexpr bool kTail = decltype(tail)::value;
    prefetch.Step();
    for (int i = 0; i < kRows; ++i) {
      __m512i w0, w1;
      dec.Decode(LoadCodes<kTail>(row[i] + k, cols - k), &w0, &w1);
      for (int t = 0; t < kTokens; ++t) {
        const uint16_t* x = xs + (t0 + t) * x_stride + kParts * k;
        __m512& a0 = acc[i][t][0];
        __m512& a1 = acc[i][t][kChains - 1];
        for (int p = 0; p < kParts; ++p) {
          a0 = DotBf16(a0, w0, _mm512_loadu_si512(x + p * kStep));
          a1 = DotBf16(a1, w1, _mm512_loadu_si512(x + p * kStep + 32));
        }
      }
    }
  };
  const int64_t whole = cols / kStep * kStep;
  for (int64_t k = 0; k < whole; k += kStep) step(k, std::false_type{});
  if (whole < cols) step(whole, std::true_type{});
  for (int i = 0; i < kRows; ++i) {
    for (int t = 0; t < kTokens; ++t) {
      __m512 sum = acc[i][t][0];
      if constexpr (kChains > 1) sum = _mm512_add_ps(sum, acc[i][t][1]);
      y[(t0 + t) * m.rows + r0 + i] = _mm512_reduce_add_ps(sum);
    }
  }
}

template <int kTokens, int kParts>
HWY_INLINE void Rows(const QuantMatrix& m, const Decoder& dec, const uint16_t* xs, int64_t x_stride,
                     int64_t r, int64_t end, int64_t t0, float* y) {
  for (; r + 4 <= end; r += 4) RowBlock<4, kTokens, kParts>(m, dec, xs, x_stride, r, t0, y);
  for (; r < end; ++r) RowBlock<1, kTokens, kParts>(m, dec, xs, x_stride, r, t0, y);
}

// Tokens go in groups of at most four over each chunk of rows, whose
// weights stay in L1 or L2 for the next group.
constexpr int64_t kMaxGroupTokens = 4;

template <int kParts>
void RunRows(const QuantMatrix& m, const Decoder& dec, const uint16_t* xs, int64_t x_stride,
             int64_t begin, int64_t end, int64_t tokens, float* y) {
  const int64_t groups = (tokens + kMaxGroupTokens - 1) / kMaxGroupTokens;
  for (int64_t chunk = begin; chunk < end; chunk += kGemvRowChunk) {
    const int64_t chunk_end = std::min(end, chunk + kGemvRowChunk);
    for (int64_t t0 = 0, g = 0; g < groups; ++g) {
      const int64_t count = (tokens - t0) / (groups - g);
      switch (count) {
        case 1:
          Rows<1, kParts>(m, dec, xs, x_stride, chunk, chunk_end, t0, y);
          break;
        case 2:
          Rows<2, kParts>(m, dec, xs, x_stride, chunk, chunk_end, t0, y);
          break;
        case 3:
          Rows<3, kParts>(m, dec, xs, x_stride, chunk, chunk_end, t0, y);
          break;
        default:
          Rows<4, kParts>(m, dec, xs, x_stride, chunk, chunk_end, t0, y);
          break;
      }
      t0 += count;
    }
  }
}

#endif  // HWY_TARGET == HWY_AVX3_DL

}  // namespace

bool Bf16KernelCompiledImpl() { return kHasBf16Dot; }

#if HWY_TARGET == HWY_AVX3_DL
template <int kParts>
void RunFp8(const QuantMatrix& m, const float* x, int64_t tokens, float* y, ThreadPool* pool) {
  const Decoder dec;
  const int64_t cols = m.cols;
  const int64_t x_stride = (cols + kStep - 1) / kStep * kParts * kStep;
  ForGemvRows(m.rows, pool, [&](int64_t begin, int64_t end) {
    // Rows of one block of rows share their scales, so each worker scales
    // the activations once per block of rows it covers.
    thread_local std::vector<uint16_t> scaled;
    scaled.resize(static_cast<size_t>(tokens * x_stride));
    for (int64_t r = begin; r < end;) {
      const int64_t block_end = std::min(end, (r / m.block_rows + 1) * m.block_rows);
      const float* scales = m.scales + (r / m.block_rows) * m.scale_cols();
      for (int64_t t = 0; t < tokens; ++t) {
        ScaleActivations<kParts>(x + t * cols, cols, scales, m.block_cols,
                                 scaled.data() + t * x_stride);
      }
      RunRows<kParts>(m, dec, scaled.data(), x_stride, r, block_end, tokens, y);
      r = block_end;
    }
  });
}
#endif

bool MatVecFp8Bf16Impl(const QuantMatrix& m, const float* x, int64_t tokens, float* y,
                       ThreadPool* pool, bool split) {
#if HWY_TARGET == HWY_AVX3_DL
  // Each step of 64 columns must lie in one block of scales.
  if (m.format != WeightFormat::kFp8Block || m.block_cols % kStep != 0) return false;
  if (split) {
    RunFp8<3>(m, x, tokens, y, pool);
  } else {
    RunFp8<1>(m, x, tokens, y, pool);
  }
  return true;
#else
  (void)m, (void)x, (void)tokens, (void)y, (void)pool, (void)split;
  return false;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(Bf16KernelCompiledImpl);
HWY_EXPORT(MatVecFp8Bf16Impl);

bool Bf16DotAvailable() {
#if defined(__x86_64__)
  static const bool cpu = __builtin_cpu_supports("avx512bf16");
#else
  constexpr bool cpu = false;
#endif
  // Not cached: tests narrow the targets Highway dispatches to.
  return cpu && HWY_DYNAMIC_DISPATCH(Bf16KernelCompiledImpl)();
}

bool MatVecFp8Bf16(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
                   bool split) {
  if (!Bf16DotAvailable()) return false;
  return HWY_DYNAMIC_DISPATCH(MatVecFp8Bf16Impl)(w, x, tokens, y, pool, split);
}

}  // namespace dsv32
#endif  // HWY_ONCE
