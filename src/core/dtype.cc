#include "core/dtype.h"

#include <array>
#include <cmath>

namespace dsv32 {

namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},     {DType::kF16, "F16", 2},  {DType::kBF16, "BF16", 2},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kI8, "I8", 1}, {DType::kU8, "U8", 1},
    {DType::kI32, "I32", 4},     {DType::kI64, "I64", 8},  {DType::kF64, "F64", 8},
    {DType::kBool, "BOOL", 1},
};

// Built at compile time: E4M3 magnitude is (8 + m) * 2^(e - 10) for normal
// codes and m * 2^-9 for subnormals.
constexpr float Pow2(int e) {
  float r = 1.0f;
  for (; e > 0; --e) r *= 2.0f;
  for (; e < 0; ++e) r *= 0.5f;
  return r;
}

}  // namespace

// The prior extern declaration in dtype.h gives this constant external linkage.
constexpr std::array<float, 256> kFp8E4M3ToF32 = [] {
  std::array<float, 256> t{};
  for (int v = 0; v < 256; ++v) {
    const int e = (v >> 3) & 0xf;
    const int m = v & 0x7;
    float mag = e == 0 ? static_cast<float>(m) * Pow2(-9)
                       : static_cast<float>(8 + m) * Pow2(e - 10);
    if (e == 0xf && m == 0x7) mag = __builtin_nanf("");
    t[v] = (v & 0x80) ? -mag : mag;
  }
  return t;
}();


size_t DTypeSize(DType t) {
  for (const auto& info : kDTypes)
    if (info.type == t) return info.size;
  return 0;
}

std::string_view DTypeName(DType t) {
  for (const auto& info : kDTypes)
    if (info.type == t) return info.name;
  return "?";
}

Result<DType> ParseDType(std::string_view name) {
  for (const auto& info : kDTypes)
    if (info.name == name) return info.type;
  return Unsupported("unknown dtype '" + std::string(name) + "'");
}

float F16ToF32(uint16_t v) {
  const int sign = v >> 15;
  const int exponent = (v >> 10) & 0x1f;
  const int mantissa = v & 0x3ff;
  float magnitude;
  if (exponent == 0x1f) {
    magnitude = mantissa ? std::nanf("") : INFINITY;
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else {
    magnitude = std::ldexp(1.0f + static_cast<float>(mantissa) / 1024.0f, exponent - 15);
  }
  return sign ? -magnitude : magnitude;
}

uint8_t F32ToFp8E4M3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;
  // Pick the nearest representable magnitude; ties go to the even code.
  // nearbyint rounds half to even in the default rounding mode.
  if (a < Pow2(-6)) return sign | static_cast<uint8_t>(std::nearbyint(a * Pow2(9)));
  int exponent;
  const float fraction = std::frexp(a, &exponent);  // a = fraction * 2^exponent
  int unbiased = exponent - 1;
  int mantissa = static_cast<int>(std::nearbyint((fraction * 2.0f - 1.0f) * 8.0f));
  if (mantissa == 8) {
    mantissa = 0;
    ++unbiased;
  }
  return sign | static_cast<uint8_t>(((unbiased + 7) << 3) | mantissa);
}

}  // namespace dsv32
