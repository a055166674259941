#include "attention/attention_kernels.h"

#include <algorithm>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "attention/attention_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float DotImpl(const float* a, const float* b, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void AxpyImpl(float a, const float* x, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  const auto va = hn::Set(d, a);
  int64_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] += a * x[i];
}

void ScaleImpl(float a, float* y, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  const auto va = hn::Set(d, a);
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(va, hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] *= a;
}

void DotRowsImpl(const float* rows, int64_t stride, int64_t count, const float* x, int64_t n,
                 float* out) {
  for (int64_t r = 0; r < count; ++r) out[r] = DotImpl(rows + r * stride, x, n);
}

void Bf16ToF32Impl(const uint8_t* src, int64_t n, float* dst) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const hn::Rebind<uint32_t, decltype(df)> du32;
  const auto N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = hn::ShiftLeft<16>(
        hn::PromoteTo(du32, hn::LoadU(du16, reinterpret_cast<const uint16_t*>(src) + i)));
    hn::StoreU(hn::BitCast(df, bits), df, dst + i);
  }
  for (; i < n; ++i) {
    uint32_t bits = 0;
    std::memcpy(reinterpret_cast<uint8_t*>(&bits) + 2, src + 2 * i, 2);
    std::memcpy(dst + i, &bits, 4);
  }
}

// out[r] = q . key_r for r in [0, rows), value k of key r at keys_t[k * stride + r].
void DotTransposedImpl(const float* keys_t, int64_t stride, int64_t rows, int64_t dim,
                       const float* q, float* out) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  int64_t r = 0;
  for (; r + 4 * N <= rows; r += 4 * N) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    for (int64_t k = 0; k < dim; ++k) {
      const auto qk = hn::Set(d, q[k]);
      const float* kt = keys_t + k * stride + r;
      a0 = hn::MulAdd(qk, hn::LoadU(d, kt), a0);
      a1 = hn::MulAdd(qk, hn::LoadU(d, kt + N), a1);
      a2 = hn::MulAdd(qk, hn::LoadU(d, kt + 2 * N), a2);
      a3 = hn::MulAdd(qk, hn::LoadU(d, kt + 3 * N), a3);
    }
    hn::StoreU(a0, d, out + r);
    hn::StoreU(a1, d, out + r + N);
    hn::StoreU(a2, d, out + r + 2 * N);
    hn::StoreU(a3, d, out + r + 3 * N);
  }
  for (; r + N <= rows; r += N) {
    auto a0 = hn::Zero(d);
    for (int64_t k = 0; k < dim; ++k)
      a0 = hn::MulAdd(hn::Set(d, q[k]), hn::LoadU(d, keys_t + k * stride + r), a0);
    hn::StoreU(a0, d, out + r);
  }
  for (; r < rows; ++r) {
    float a = 0.0f;
    for (int64_t k = 0; k < dim; ++k) a += q[k] * keys_t[k * stride + r];
    out[r] = a;
  }
}

void WeightedSumImpl(const float* p, const float* rows, int64_t count, int64_t stride, int64_t n,
                     float* acc) {
  const hn::ScalableTag<float> d;
  const auto N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    auto a0 = hn::LoadU(d, acc + i), a1 = hn::LoadU(d, acc + i + N);
    auto a2 = hn::LoadU(d, acc + i + 2 * N), a3 = hn::LoadU(d, acc + i + 3 * N);
    for (int64_t r = 0; r < count; ++r) {
      const auto pr = hn::Set(d, p[r]);
      const float* x = rows + r * stride + i;
      a0 = hn::MulAdd(pr, hn::LoadU(d, x), a0);
      a1 = hn::MulAdd(pr, hn::LoadU(d, x + N), a1);
      a2 = hn::MulAdd(pr, hn::LoadU(d, x + 2 * N), a2);
      a3 = hn::MulAdd(pr, hn::LoadU(d, x + 3 * N), a3);
    }
    hn::StoreU(a0, d, acc + i);
    hn::StoreU(a1, d, acc + i + N);
    hn::StoreU(a2, d, acc + i + 2 * N);
    hn::StoreU(a3, d, acc + i + 3 * N);
  }
  for (; i + N <= n; i += N) {
    auto a0 = hn::LoadU(d, acc + i);
    for (int64_t r = 0; r < count; ++r)
      a0 = hn::MulAdd(hn::Set(d, p[r]), hn::LoadU(d, rows + r * stride + i), a0);
    hn::StoreU(a0, d, acc + i);
  }
  for (; i < n; ++i) {
    float a = acc[i];
    for (int64_t r = 0; r < count; ++r) a += p[r] * rows[r * stride + i];
    acc[i] = a;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(DotImpl);
HWY_EXPORT(AxpyImpl);
HWY_EXPORT(ScaleImpl);
HWY_EXPORT(DotRowsImpl);
HWY_EXPORT(Bf16ToF32Impl);
HWY_EXPORT(DotTransposedImpl);
HWY_EXPORT(WeightedSumImpl);

void KernelDotTransposed(const float* keys_t, int64_t rows, int64_t dim, const float* q,
                         float* out) {
  HWY_DYNAMIC_DISPATCH(DotTransposedImpl)(keys_t, rows, rows, dim, q, out);
}

void KernelWeightedSum(const float* p, const float* rows, int64_t count, int64_t stride, int64_t n,
                       float* acc) {
  HWY_DYNAMIC_DISPATCH(WeightedSumImpl)(p, rows, count, stride, n, acc);
}

void Transpose(const float* in, int64_t rows, int64_t dim, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < dim; ++k) out[k * rows + r] = in[r * dim + k];
}

float KernelDot(const float* a, const float* b, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n);
}

void KernelAxpy(float a, const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AxpyImpl)(a, x, y, n);
}

void KernelScale(float a, float* y, int64_t n) { HWY_DYNAMIC_DISPATCH(ScaleImpl)(a, y, n); }

void KernelDotRows(const float* rows, int64_t stride, int64_t count, const float* x, int64_t n,
                   float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsImpl)(rows, stride, count, x, n, out);
}

void KernelDecodeRows(const KvFieldFormat& f, const uint8_t* values, const uint8_t* scales,
                      int64_t rows, float* dst) {
  switch (f.dtype) {
    case DType::kF32:
      std::memcpy(dst, values, static_cast<size_t>(rows * f.dim) * sizeof(float));
      return;
    case DType::kBF16:
      HWY_DYNAMIC_DISPATCH(Bf16ToF32Impl)(values, rows * f.dim, dst);
      return;
    case DType::kF8E4M3: {
      // E4M3 has no cheap vector conversion on x86: a table lookup per
      // value, then one scale per group.
      const int64_t groups = f.scales();
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* v = values + r * f.dim;
        float* out = dst + r * f.dim;
        for (int64_t i = 0; i < f.dim; ++i) out[i] = Fp8E4M3ToF32(v[i]);
        for (int64_t g = 0; g < groups; ++g) {
          float scale;
          std::memcpy(&scale, scales + 4 * (r * groups + g), 4);
          const int64_t begin = g * f.scale_group;
          const int64_t len = std::min(f.dim, begin + f.scale_group) - begin;
          HWY_DYNAMIC_DISPATCH(ScaleImpl)(scale, out + begin, len);
        }
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace dsv32
#endif  // HWY_ONCE
