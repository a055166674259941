#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dsv32 {
namespace {

TEST(DTypeTest, Fp8TableMatchesKnownValues) {
  EXPECT_EQ(Fp8E4M3ToF32(0x00), 0.0f);
  EXPECT_EQ(Fp8E4M3ToF32(0x38), 1.0f);
  EXPECT_EQ(Fp8E4M3ToF32(0x7e), 448.0f);
  EXPECT_EQ(Fp8E4M3ToF32(0xfe), -448.0f);
  EXPECT_EQ(Fp8E4M3ToF32(0x01), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(Fp8E4M3ToF32(0x7f)));
}

TEST(DTypeTest, Fp8RoundTripsEveryFiniteCode) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7f) == 0x7f) continue;
    const float v = Fp8E4M3ToF32(static_cast<uint8_t>(code));
    const uint8_t back = F32ToFp8E4M3(v);
    if (code == 0x80) {
      EXPECT_EQ(back, 0x80);
      continue;
    }
    EXPECT_EQ(back, code) << "value " << v;
  }
}

TEST(DTypeTest, Fp8RoundsToNearestEvenAndSaturates) {
  EXPECT_EQ(F32ToFp8E4M3(1.0625f), 0x38);  // halfway between 1 and 1.125: even
  EXPECT_EQ(F32ToFp8E4M3(1.1875f), 0x3a);  // halfway between 1.125 and 1.25: even
  EXPECT_EQ(F32ToFp8E4M3(1e6f), 0x7e);
  EXPECT_EQ(F32ToFp8E4M3(-1e6f), 0xfe);
}

TEST(DTypeTest, BF16RoundTrip) {
  EXPECT_EQ(BF16ToF32(F32ToBF16(1.5f)), 1.5f);
  EXPECT_EQ(F32ToBF16(1.00390625f), F32ToBF16(1.0f));  // ties to even
}

}  // namespace
}  // namespace dsv32
