// Per-target decoders from each weight format to f32 vectors, shared by the
// GEMV and GEMM kernels. Included once per Highway target, hence the toggled
// include guard instead of #pragma once.
#if defined(DSV32_QUANT_DECODE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSV32_QUANT_DECODE_INL_H_
#undef DSV32_QUANT_DECODE_INL_H_
#else
#define DSV32_QUANT_DECODE_INL_H_
#endif

#include <cstdint>

#include "core/dtype.h"
#include "hwy/highway.h"
#include "quant/int4.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 f32 lanes, so a 16-byte INT4 chunk fills whole vectors.
using DF = hn::CappedTag<float, 16>;
using VF = hn::Vec<DF>;

// E4M3 -> f16 with the same bits moved: sign to bit 15, exponent and
// mantissa shifted left by 7. The f16 exponent bias is 8 larger, so the value
// comes out 2^-8 times the E4M3 value, subnormals included; callers fold the
// 2^8 into the block scale. Widening f16 to f32 is one instruction on F16C
// and AVX-512, and unlike f32 bit tricks never feeds a subnormal to a multiply.
// The two NaN codes (0x7f, 0xff) come out as +-480 rather than NaN; weights
// never hold them.
inline constexpr float kFp8BitsScale = 256.0f;

// Decodes 2 * Lanes(df) codes: the integer steps run once on a full vector
// of 16-bit lanes, then each half widens to f32.
HWY_INLINE void DecodeFp8Bits(DF df, const uint8_t* HWY_RESTRICT p, VF* w0, VF* w1) {
#if HWY_TARGET == HWY_SCALAR
  // One lane: no wider integer vector to share.
  *w0 = hn::Set(df, Fp8E4M3ToF32(p[0]) / kFp8BitsScale);
  *w1 = hn::Set(df, Fp8E4M3ToF32(p[1]) / kFp8BitsScale);
#else
  const hn::Repartition<int16_t, DF> di16;
  const hn::Half<decltype(di16)> di16_half;
  const hn::Rebind<int8_t, decltype(di16)> di8;
  const hn::Rebind<hwy::float16_t, decltype(di16_half)> df16;
  // Sign-extending puts the sign in bits 8..15; after the shift bit 15 is
  // the sign and bit 14 a copy of it that the mask clears.
  const auto wide = hn::PromoteTo(di16, hn::LoadU(di8, reinterpret_cast<const int8_t*>(p)));
  const auto bits = hn::And(hn::ShiftLeft<7>(wide), hn::Set(di16, static_cast<int16_t>(0xbfff)));
  *w0 = hn::PromoteTo(df, hn::BitCast(df16, hn::LowerHalf(di16_half, bits)));
  *w1 = hn::PromoteTo(df, hn::BitCast(df16, hn::UpperHalf(di16_half, bits)));
#endif
}

// E4M3 -> f32 with integer shifts only, four codes to each 32-bit lane of the
// bytes loaded: each code lands in the top byte of a 16-bit half, an
// arithmetic shift right by 4 puts its exponent and mantissa at bits 20..26
// and copies its sign up, and the mask keeps the copy in bit 31. The f32
// exponent bias is 120 larger, so the value comes out 2^-120 times the E4M3
// value, subnormals included (as f32 subnormals, exact unless the thread
// flushes them: callers check MXCSR.DAZ). It needs no F16C conversion,
// which AMD Zen 2 and 3 run at one ymm per two cycles.
inline constexpr float kFp8F32BitsScale = 0x1p120f;

// Codes per Fp8F32BitsStep (DecodeFp8F32Bits' four vectors).
template <class D>
HWY_INLINE int64_t Fp8F32BitsStep(D d) {
  return 4 * static_cast<int64_t>(hn::Lanes(d));
}

#if HWY_TARGET != HWY_SCALAR
inline constexpr bool kHasFp8F32Bits = true;

// Decodes the 4 * Lanes(df) codes at p: lane L of w[j] is code 4 * L + j,
// so the activations must be in that order (Fp8F32BitsOrder).
HWY_INLINE void DecodeFp8F32Bits(DF df, const uint8_t* HWY_RESTRICT p, VF* w) {
  const hn::Repartition<uint8_t, DF> du8;
  const hn::Repartition<int16_t, DF> di16;
  const hn::Repartition<int32_t, DF> di32;
  const auto mask = hn::Set(di32, static_cast<int32_t>(0x87f00000u));
  const auto bytes = hn::BitCast(di16, hn::LoadU(du8, p));
  // Codes 1 and 3 of each lane are already the high bytes of their halves;
  // codes 0 and 2 are moved there.
  const auto odd = hn::BitCast(di32, hn::ShiftRight<4>(bytes));
  const auto even = hn::BitCast(di32, hn::ShiftRight<4>(hn::ShiftLeft<8>(bytes)));
  w[0] = hn::BitCast(df, hn::And(hn::ShiftLeft<16>(even), mask));
  w[1] = hn::BitCast(df, hn::And(hn::ShiftLeft<16>(odd), mask));
  w[2] = hn::BitCast(df, hn::And(even, mask));
  w[3] = hn::BitCast(df, hn::And(odd, mask));
}
#else
inline constexpr bool kHasFp8F32Bits = false;
#endif

// Activations times a block scale stay below this for the decode's 2^120
// to leave them finite (below 2^127, with room to spare).
inline constexpr float kFp8F32BitsMaxScaled = 128.0f;

// One step of values (Fp8F32BitsStep(df) of them) from column order at `in`
// into the order DecodeFp8F32Bits' lanes take them, at `out`.
HWY_INLINE void Fp8F32BitsOrder(DF df, const float* HWY_RESTRICT in, float* HWY_RESTRICT out) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF v0, v1, v2, v3;
  hn::LoadInterleaved4(df, in, v0, v1, v2, v3);
  hn::StoreU(v0, df, out);
  hn::StoreU(v1, df, out + lanes);
  hn::StoreU(v2, df, out + 2 * lanes);
  hn::StoreU(v3, df, out + 3 * lanes);
}

// The inverse, in place: one step of sums in lane order back in column order.
HWY_INLINE void Fp8F32BitsRestoreOrder(DF df, float* HWY_RESTRICT p) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF v0 = hn::LoadU(df, p), v1 = hn::LoadU(df, p + lanes);
  const VF v2 = hn::LoadU(df, p + 2 * lanes), v3 = hn::LoadU(df, p + 3 * lanes);
  hn::StoreInterleaved4(v0, v1, v2, v3, df, p);
}

#if HWY_TARGET == HWY_AVX3_DL
// The bf16 dot product behind the fast mode's kernels (gemv_bf16dot.cc and
// MatMulTiled's kBf16). AVX3_DL brings the byte permutes (VBMI) but not the
// bf16 instructions (Ice Lake has none), so VDPBF16PS is written out, and
// the kernels run only after a CPUID check (Bf16DotAvailable).
inline constexpr bool kHasBf16Dot = true;

// acc + per f32 lane the two products of the bf16 pairs of w and x.
HWY_INLINE __m512 DotBf16(__m512 acc, __m512i w, __m512i x) {
  asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));
  return acc;
}

// The bf16 values of 32 floats, rounded to nearest even, in order: lo's 16
// first (VCVTNE2PS2BF16).
HWY_INLINE __m512i ToBf16(__m512 lo, __m512 hi) {
  __m512i out;
  asm("vcvtne2ps2bf16 %2, %1, %0" : "=v"(out) : "v"(hi), "v"(lo));
  return out;
}
#else
inline constexpr bool kHasBf16Dot = false;
#endif

// The exact E4M3 value, gathered from the 256-entry table.
HWY_INLINE VF DecodeFp8Table(DF df, const uint8_t* HWY_RESTRICT p) {
  const hn::Rebind<uint8_t, DF> du8;
  const hn::Rebind<int32_t, DF> di32;
  return hn::GatherIndex(df, kFp8E4M3ToF32.data(), hn::PromoteTo(di32, hn::LoadU(du8, p)));
}

HWY_INLINE VF DecodeBF16(DF df, const uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dbf16;
  return hn::PromoteTo(df, hn::LoadU(dbf16, reinterpret_cast<const hwy::bfloat16_t*>(p)));
}

// Where the pair of vectors that INT4 step `k` (a multiple of 2 * Lanes(df))
// decodes lands in the row: Lanes(df) bytes of one 16-byte chunk, whose low
// nibbles are the weights from column lo and high nibbles those from hi.
struct Int4Step {
  int64_t byte;  // offset of the bytes in the packed row
  int64_t lo;    // column of the first low-nibble weight
  int64_t hi;    // column of the first high-nibble weight
};

HWY_INLINE Int4Step Int4StepAt(int64_t k) {
  // k is never negative; unsigned division is a shift.
  const auto u = static_cast<uint64_t>(k);
  const auto chunk = static_cast<int64_t>(u / kInt4Chunk);
  const auto sub = static_cast<int64_t>((u % kInt4Chunk) / 2);
  return {chunk * kInt4ChunkBytes + sub, chunk * kInt4Chunk + sub,
          chunk * kInt4Chunk + kInt4ChunkBytes + sub};
}

// The nibbles at `p` as weights: q -> q * scale, low nibbles to *lo, high to
// *hi (the zero point is the caller's). With 16 lanes the 16 possible values
// form one vector and each nibble picks its lane (the permute reads only the
// index's low four bits, so the low nibble needs no mask); elsewhere the
// nibbles are converted and multiplied.
HWY_INLINE void DecodeInt4(DF df, const uint8_t* HWY_RESTRICT p, float scale, VF* lo, VF* hi) {
  const hn::Rebind<uint8_t, DF> du8;
  const hn::Rebind<int32_t, DF> di32;
  const auto bytes = hn::PromoteTo(di32, hn::LoadU(du8, p));
#if HWY_TARGET <= HWY_AVX3
  if constexpr (hn::MaxLanes(DF()) == 16) {
    const VF table = hn::Mul(hn::Iota(df, 0.0f), hn::Set(df, scale));
    *lo = VF{_mm512_permutexvar_ps(bytes.raw, table.raw)};
    *hi = VF{_mm512_permutexvar_ps(hn::ShiftRight<4>(bytes).raw, table.raw)};
    return;
  }
#endif
  const VF s = hn::Set(df, scale);
  *lo = hn::Mul(hn::ConvertTo(df, hn::And(bytes, hn::Set(di32, 0xf))), s);
  *hi = hn::Mul(hn::ConvertTo(df, hn::ShiftRight<4>(bytes)), s);
}

// The part of an INT4 row's sum that its zero points contribute, to be
// subtracted: sum over groups g of scale[g] * zero[g] * sums[g], where sums[g]
// is the sum of the activations the group multiplies (zero null: every zero
// point is 8).
HWY_INLINE float Int4ZeroCorrection(const float* HWY_RESTRICT scale,
                                    const uint8_t* HWY_RESTRICT zero,
                                    const float* HWY_RESTRICT sums, int64_t groups) {
  const DF df;
  const hn::Rebind<uint8_t, DF> du8;
  const hn::Rebind<int32_t, DF> di32;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF acc = hn::Zero(df);
  int64_t g = 0;
  for (; g + lanes <= groups; g += lanes) {
    VF term = hn::Mul(hn::LoadU(df, scale + g), hn::LoadU(df, sums + g));
    if (zero) term = hn::Mul(term, hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(du8, zero + g))));
    acc = hn::Add(acc, term);
  }
  float tail = 0.0f;
  for (; g < groups; ++g) tail += scale[g] * sums[g] * (zero ? static_cast<float>(zero[g]) : 1.0f);
  const float total = hn::GetLane(hn::SumOfLanes(df, acc)) + tail;
  return zero ? total : total * kInt4SymmetricZero;
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#endif  // DSV32_QUANT_DECODE_INL_H_
