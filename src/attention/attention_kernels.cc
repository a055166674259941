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
  for (; i + N <= n; i += N) hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
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
    const auto bits = hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, reinterpret_cast<const uint16_t*>(src) + i)));
    hn::StoreU(hn::BitCast(df, bits), df, dst + i);
  }
  for (; i < n; ++i) {
    uint32_t bits = 0;
    std::memcpy(reinterpret_cast<uint8_t*>(&bits) + 2, src + 2 * i, 2);
    std::memcpy(dst + i, &bits, 4);
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
