#include "attention/index_kernels.h"

#include <algorithm>
#include <cstring>

#include "attention/attention_kernels.h"
#include "core/dtype.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "attention/index_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 lanes, so kIndexHeadPad heads are whole vectors on every target.
using DF = hn::CappedTag<float, kIndexHeadPad>;
using VF = hn::Vec<DF>;

// Head vectors per register tile: with KT keys it takes HV * KT
// accumulators, HV q vectors and a broadcast key value, within 32 registers
// on AVX-512 and 16 on AVX2.
constexpr int kMaxHeadVecs = HWY_MAX_BYTES >= 64 ? 4 : 2;
constexpr int kKeyTile = 4;

// sums[t] += sum over the HV head vectors at q_t / w of
// w * ReLU(q . key_t), for KT keys at `keys` (rows of `dim`). kPairs: dims
// in pairs, the odd one first (the bf16 precision's order).
template <int HV, int KT, bool kPairs>
HWY_INLINE void ScoreTile(const float* HWY_RESTRICT q_t, int64_t padded_heads, int64_t dim,
                          const float* HWY_RESTRICT w, const float* HWY_RESTRICT keys,
                          float* sums) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF acc[HV][KT];
  for (int h = 0; h < HV; ++h)
    for (int t = 0; t < KT; ++t) acc[h][t] = hn::Zero(d);
  auto step = [&](int64_t k) HWY_ATTR {
    VF qv[HV];
    for (int h = 0; h < HV; ++h) qv[h] = hn::LoadU(d, q_t + k * padded_heads + h * N);
    for (int t = 0; t < KT; ++t) {
      const VF kv = hn::Set(d, keys[t * dim + k]);
      for (int h = 0; h < HV; ++h) acc[h][t] = hn::MulAdd(qv[h], kv, acc[h][t]);
    }
  };
  if constexpr (kPairs) {
    for (int64_t k = 0; k < dim; k += 2) {
      step(k + 1);
      step(k);
    }
  } else {
    for (int64_t k = 0; k < dim; ++k) step(k);
  }
  const VF zero = hn::Zero(d);
  for (int t = 0; t < KT; ++t) {
    VF s = hn::Mul(hn::LoadU(d, w), hn::Max(acc[0][t], zero));
    for (int h = 1; h < HV; ++h)
      s = hn::MulAdd(hn::LoadU(d, w + h * N), hn::Max(acc[h][t], zero), s);
    sums[t] += hn::GetLane(hn::SumOfLanes(d, s));
  }
}

template <int HV, bool kPairs>
HWY_INLINE void ScoreHeadGroup(const float* q_t, int64_t padded_heads, int64_t dim, const float* w,
                               const float* keys, int64_t r, int64_t rows, float* sums) {
  if (rows - r >= kKeyTile) {
    ScoreTile<HV, kKeyTile, kPairs>(q_t, padded_heads, dim, w, keys + r * dim, sums);
  } else {
    for (int64_t t = r; t < rows; ++t)
      ScoreTile<HV, 1, kPairs>(q_t, padded_heads, dim, w, keys + t * dim, sums + (t - r));
  }
}

template <bool kPairs>
void ScoresF32(const float* q_t, const float* w, int64_t padded_heads, int64_t dim,
               const float* keys, const float* factors, int64_t rows, float* out) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int64_t vecs = padded_heads / N;
  for (int64_t r = 0; r < rows; r += kKeyTile) {
    float sums[kKeyTile] = {};
    for (int64_t g = 0; g < vecs; g += kMaxHeadVecs) {
      const float* qg = q_t + g * N;
      const float* wg = w + g * N;
      switch (std::min<int64_t>(kMaxHeadVecs, vecs - g)) {
        case 1:
          ScoreHeadGroup<1, kPairs>(qg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
        case 2:
          ScoreHeadGroup<2, kPairs>(qg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
#if HWY_MAX_BYTES >= 64
        case 3:
          ScoreHeadGroup<3, kPairs>(qg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
        case 4:
          ScoreHeadGroup<4, kPairs>(qg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
#endif
        default:
          break;
      }
    }
    const int64_t n = std::min<int64_t>(kKeyTile, rows - r);
    for (int64_t t = 0; t < n; ++t) out[r + t] = factors ? factors[r + t] * sums[t] : sums[t];
  }
}

void IndexScoresF32Impl(const float* q_t, const float* w, int64_t padded_heads, int64_t dim,
                        const float* keys, const float* factors, int64_t rows, bool pairs,
                        float* out) {
  if (pairs) {
    ScoresF32<true>(q_t, w, padded_heads, dim, keys, factors, rows, out);
  } else {
    ScoresF32<false>(q_t, w, padded_heads, dim, keys, factors, rows, out);
  }
}

// E4M3 bits s.eeee.mmm become binary16 bits s.0eeee.mmm0000000: the same
// value times 2^(7 - 15) for normal and subnormal values alike, which the
// F16C conversion widens exactly.
template <class D16>
HWY_INLINE hn::Vec<hn::Rebind<float, D16>> E4M3ToF32Scaled(D16 du16, const uint8_t* src) {
  const hn::Rebind<uint8_t, D16> du8;
  const hn::Rebind<hwy::float16_t, D16> df16;
  const hn::Rebind<float, D16> df;
  const auto b = hn::PromoteTo(du16, hn::LoadU(du8, src));
  const auto h = hn::Or(hn::ShiftLeft<8>(hn::And(b, hn::Set(du16, 0x80))),
                        hn::ShiftLeft<7>(hn::And(b, hn::Set(du16, 0x7F))));
  return hn::PromoteTo(df, hn::BitCast(df16, h));
}

void E4M3ToF32ScaledImpl(const uint8_t* src, int64_t n, float* dst) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const auto N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(E4M3ToF32Scaled(du16, src + i), df, dst + i);
  for (; i < n; ++i) dst[i] = Fp8E4M3ToF32(src[i]) * (1.0f / 256.0f);
}

void E4M3ToBf16ScaledImpl(const uint8_t* src, int64_t n, uint16_t* dst) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::RebindToSigned<decltype(df)> di32;
  const auto N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  // Three mantissa bits: the upper half of the f32 is the exact bf16.
  for (; i + N <= n; i += N) {
    const auto bits = hn::ShiftRight<16>(hn::BitCast(du32, E4M3ToF32Scaled(du16, src + i)));
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di32, bits)), du16, dst + i);
  }
  for (; i < n; ++i) dst[i] = F32ToBF16(Fp8E4M3ToF32(src[i]) * (1.0f / 256.0f));
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#if HWY_ARCH_X86 && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define DSV32_HAVE_AVX512_BF16 1
#include <immintrin.h>
#else
#define DSV32_HAVE_AVX512_BF16 0
#endif

namespace dsv32 {

HWY_EXPORT(IndexScoresF32Impl);
HWY_EXPORT(E4M3ToF32ScaledImpl);
HWY_EXPORT(E4M3ToBf16ScaledImpl);

#if DSV32_HAVE_AVX512_BF16
namespace {

#define DSV32_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// The kBf16 precision with vdpbf16ps: the structure of ScoreTile above (16
// heads per vector), q as bf16 pairs, each key's pair broadcast.
template <int HV, int KT>
DSV32_BF16_TARGET inline void ScoreTileBf16(const uint32_t* pairs, int64_t padded_heads,
                                            int64_t dim, const float* w, const uint16_t* keys,
                                            float* sums) {
  __m512 acc[HV][KT];
  for (int h = 0; h < HV; ++h)
    for (int t = 0; t < KT; ++t) acc[h][t] = _mm512_setzero_ps();
  for (int64_t p = 0; p < dim / 2; ++p) {
    __m512i qv[HV];
    for (int h = 0; h < HV; ++h) qv[h] = _mm512_loadu_si512(pairs + p * padded_heads + 16 * h);
    for (int t = 0; t < KT; ++t) {
      uint32_t pair;
      std::memcpy(&pair, keys + t * dim + 2 * p, 4);
      const __m512i kv = _mm512_set1_epi32(static_cast<int>(pair));
      for (int h = 0; h < HV; ++h)
        acc[h][t] = _mm512_dpbf16_ps(acc[h][t], (__m512bh)qv[h], (__m512bh)kv);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int t = 0; t < KT; ++t) {
    __m512 s = _mm512_mul_ps(_mm512_loadu_ps(w), _mm512_max_ps(acc[0][t], zero));
    for (int h = 1; h < HV; ++h)
      s = _mm512_fmadd_ps(_mm512_loadu_ps(w + 16 * h), _mm512_max_ps(acc[h][t], zero), s);
    sums[t] += _mm512_reduce_add_ps(s);
  }
}

template <int HV>
DSV32_BF16_TARGET inline void ScoreHeadGroupBf16(const uint32_t* pairs, int64_t padded_heads,
                                                 int64_t dim, const float* w, const uint16_t* keys,
                                                 int64_t r, int64_t rows, float* sums) {
  constexpr int kTile = 4;
  if (rows - r >= kTile) {
    ScoreTileBf16<HV, kTile>(pairs, padded_heads, dim, w, keys + r * dim, sums);
  } else {
    for (int64_t t = r; t < rows; ++t)
      ScoreTileBf16<HV, 1>(pairs, padded_heads, dim, w, keys + t * dim, sums + (t - r));
  }
}

DSV32_BF16_TARGET void IndexScoresAvx512Bf16(const uint32_t* pairs, const float* w,
                                             int64_t padded_heads, int64_t dim,
                                             const uint16_t* keys, const float* factors,
                                             int64_t rows, float* out) {
  constexpr int64_t kTile = 4;
  const int64_t vecs = padded_heads / 16;
  for (int64_t r = 0; r < rows; r += kTile) {
    float sums[kTile] = {};
    for (int64_t g = 0; g < vecs; g += 4) {
      const uint32_t* pg = pairs + g * 16;
      const float* wg = w + g * 16;
      switch (vecs - g < 4 ? vecs - g : 4) {
        case 1:
          ScoreHeadGroupBf16<1>(pg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
        case 2:
          ScoreHeadGroupBf16<2>(pg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
        case 3:
          ScoreHeadGroupBf16<3>(pg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
        default:
          ScoreHeadGroupBf16<4>(pg, padded_heads, dim, wg, keys, r, rows, sums);
          break;
      }
    }
    const int64_t n = rows - r < kTile ? rows - r : kTile;
    for (int64_t t = 0; t < n; ++t) out[r + t] = factors ? factors[r + t] * sums[t] : sums[t];
  }
}

}  // namespace
#endif  // DSV32_HAVE_AVX512_BF16

bool IndexKernelsUseAvx512Bf16() {
#if DSV32_HAVE_AVX512_BF16
  // SupportedTargets() also honours SetSupportedTargetsForTest, so tests
  // of the AVX2 and SSE4 targets run the FMA form.
  static const bool cpu = __builtin_cpu_supports("avx512bf16");
  return cpu && (hwy::SupportedTargets() & (HWY_AVX3 | HWY_AVX3_DL)) != 0;
#else
  return false;
#endif
}

IndexQuery::IndexQuery(const float* q, const float* head_weights, int64_t heads_in, int64_t dim_in,
                       float scale, IndexPrecision precision_in)
    : precision(precision_in),
      heads(heads_in),
      dim(dim_in),
      padded_heads((heads_in + kIndexHeadPad - 1) / kIndexHeadPad * kIndexHeadPad) {
  q_t.assign(static_cast<size_t>(dim * padded_heads), 0.0f);
  w.assign(static_cast<size_t>(padded_heads), 0.0f);
  const bool bf16 = precision == IndexPrecision::kBf16;
  for (int64_t h = 0; h < heads; ++h) {
    w[h] = head_weights[h] * scale;
    for (int64_t k = 0; k < dim; ++k) {
      const float v = q[h * dim + k];
      q_t[k * padded_heads + h] = bf16 ? BF16ToF32(F32ToBF16(v)) : v;
    }
  }
  if (bf16) {
    pairs.assign(static_cast<size_t>(dim / 2 * padded_heads), 0);
    for (int64_t p = 0; p < dim / 2; ++p)
      for (int64_t h = 0; h < heads; ++h)
        pairs[p * padded_heads + h] =
            F32ToBF16(q[h * dim + 2 * p]) | static_cast<uint32_t>(F32ToBF16(q[h * dim + 2 * p + 1]))
                                                << 16;
  }
}

IndexKeyReader::IndexKeyReader(const KvFieldFormat& f, IndexPrecision precision, int64_t max_rows)
    : f_(f), precision_(precision) {
  native_bf16_ = precision == IndexPrecision::kBf16 && IndexKernelsUseAvx512Bf16();
  const auto n = static_cast<size_t>(max_rows * f.dim);
  if (native_bf16_) {
    bf16_.resize(n);
  } else {
    f32_.resize(n);
  }
  if (f.dtype == DType::kF8E4M3) factors_.resize(static_cast<size_t>(max_rows));
}

void IndexKeyReader::Clear() {
  rows_ = 0;
  in_place_ = nullptr;
}

void IndexKeyReader::Append(const uint8_t* values, const uint8_t* scales, int64_t rows) {
  const bool direct = (f_.dtype == DType::kF32 && precision_ == IndexPrecision::kF32) ||
                      (f_.dtype == DType::kBF16 && native_bf16_);
  if (direct && rows_ == 0) {
    in_place_ = values;
    rows_ = rows;
    return;
  }
  if (in_place_) {
    const uint8_t* first = in_place_;
    const int64_t first_rows = rows_;
    Clear();
    Copy(first, nullptr, first_rows);
  }
  Copy(values, scales, rows);
}

void IndexKeyReader::Copy(const uint8_t* values, const uint8_t* scales, int64_t rows) {
  const int64_t dim = f_.dim;
  const int64_t n = rows * dim;
  float* f32 = f32_.data() + rows_ * dim;
  uint16_t* bf16 = bf16_.data() + rows_ * dim;
  if (f_.dtype == DType::kF8E4M3 && f_.scale_group == dim) {
    // One scale per key: the key is read unscaled and its score scaled.
    if (native_bf16_) {
      HWY_DYNAMIC_DISPATCH(E4M3ToBf16ScaledImpl)(values, n, bf16);
    } else {
      HWY_DYNAMIC_DISPATCH(E4M3ToF32ScaledImpl)(values, n, f32);
    }
    for (int64_t r = 0; r < rows; ++r) {
      float s;
      std::memcpy(&s, scales + 4 * r, 4);
      factors_[rows_ + r] = s * 256.0f;
    }
  } else if (f_.dtype == DType::kBF16 && native_bf16_) {
    std::memcpy(bf16, values, static_cast<size_t>(n) * 2);
  } else if (native_bf16_) {
    std::vector<float> decoded(static_cast<size_t>(n));
    KernelDecodeRows(f_, values, scales, rows, decoded.data());
    for (int64_t i = 0; i < n; ++i) bf16[i] = F32ToBF16(decoded[i]);
  } else {
    KernelDecodeRows(f_, values, scales, rows, f32);
    if (precision_ == IndexPrecision::kBf16 && f_.dtype != DType::kBF16)
      for (int64_t i = 0; i < n; ++i) f32[i] = BF16ToF32(F32ToBF16(f32[i]));
  }
  if (f_.dtype == DType::kF8E4M3 && f_.scale_group != dim)
    std::fill_n(factors_.data() + rows_, rows, 1.0f);
  rows_ += rows;
}

IndexKeys IndexKeyReader::keys() const {
  IndexKeys k;
  k.rows = rows_;
  if (f_.dtype == DType::kF8E4M3) k.factors = factors_.data();
  if (in_place_) {
    if (native_bf16_) {
      k.bf16 = reinterpret_cast<const uint16_t*>(in_place_);
    } else {
      k.f32 = reinterpret_cast<const float*>(in_place_);
    }
  } else if (native_bf16_) {
    k.bf16 = bf16_.data();
  } else {
    k.f32 = f32_.data();
  }
  return k;
}

void KernelIndexScores(const IndexQuery& q, const IndexKeys& keys, float* out) {
#if DSV32_HAVE_AVX512_BF16
  if (keys.bf16) {
    IndexScoresAvx512Bf16(q.pairs.data(), q.w.data(), q.padded_heads, q.dim, keys.bf16,
                          keys.factors, keys.rows, out);
    return;
  }
#endif
  HWY_DYNAMIC_DISPATCH(IndexScoresF32Impl)
  (q.q_t.data(), q.w.data(), q.padded_heads, q.dim, keys.f32, keys.factors, keys.rows,
   q.precision == IndexPrecision::kBf16, out);
}

void IndexScoresReference(const IndexQuery& q, const float* keys, const float* factors,
                          int64_t rows, float* out) {
  const int64_t hp = q.padded_heads, dim = q.dim;
  for (int64_t r = 0; r < rows; ++r) {
    const float* key = keys + r * dim;
    float total = 0.0f;
    for (int64_t h = 0; h < q.heads; ++h) {
      float a = 0.0f;
      if (q.precision == IndexPrecision::kBf16) {
        for (int64_t k = 0; k < dim; k += 2) {
          a += q.q_t[(k + 1) * hp + h] * key[k + 1];
          a += q.q_t[k * hp + h] * key[k];
        }
      } else {
        for (int64_t k = 0; k < dim; ++k) a += q.q_t[k * hp + h] * key[k];
      }
      total += q.w[h] * std::max(a, 0.0f);
    }
    out[r] = factors ? factors[r] * total : total;
  }
}

void KernelE4M3ToF32Scaled(const uint8_t* src, int64_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(E4M3ToF32ScaledImpl)(src, n, dst);
}

void KernelE4M3ToBf16Scaled(const uint8_t* src, int64_t n, uint16_t* dst) {
  HWY_DYNAMIC_DISPATCH(E4M3ToBf16ScaledImpl)(src, n, dst);
}

}  // namespace dsv32
#endif  // HWY_ONCE
