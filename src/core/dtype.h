// Element types found in DeepSeek checkpoints and the conversions the
// reference path needs. FP8 is E4M3 "fn" (no infinities, 0x7f/0xff are NaN).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/status.h"

namespace dsv32 {

enum class DType { kF32, kF16, kBF16, kF8E4M3, kI8, kU8, kI32, kI64, kF64, kBool };

// Bytes per element.
size_t DTypeSize(DType t);
// The safetensors spelling ("F8_E4M3", "BF16", ...).
std::string_view DTypeName(DType t);
Result<DType> ParseDType(std::string_view name);

inline float BF16ToF32(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even, as torch does when casting f32 to bf16.
inline uint16_t F32ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float F16ToF32(uint16_t v);

// All 256 E4M3 values as f32; decoding by table is exact.
extern const std::array<float, 256> kFp8E4M3ToF32;
inline float Fp8E4M3ToF32(uint8_t v) { return kFp8E4M3ToF32[v]; }

// Round to nearest even E4M3, saturating at +-448 (the checkpoints' convention).
uint8_t F32ToFp8E4M3(float f);

}  // namespace dsv32
