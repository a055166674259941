// ScratchFloats: memory kept between calls up to kScratchKeepBytes, given
// back past it.
#include "core/scratch.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace dsv32 {
namespace {

TEST(ScratchFloatsTest, KeepsItsBlockForRequestsThatFit) {
  ScratchFloats s;
  float* first = s.Get(1000);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
  first[999] = 1.0f;
  s.Trim();  // far below the limit: kept
  EXPECT_EQ(s.Get(10), first);
  EXPECT_EQ(s.Get(1000), first);
  float* grown = s.Get(5000);
  ASSERT_NE(grown, nullptr);
  grown[4999] = 2.0f;
}

TEST(ScratchFloatsTest, GivesBackWhatIsPastTheLimit) {
  ScratchFloats s;
  const size_t big = kScratchKeepBytes / sizeof(float) + 16;
  float* p = s.Get(big);
  ASSERT_NE(p, nullptr);
  p[big - 1] = 3.0f;
  {
    ScratchTrim trim(s);
  }
  // Given back: the next request allocates again, whatever its size.
  float* q = s.Get(16);
  ASSERT_NE(q, nullptr);
  q[15] = 4.0f;
}

}  // namespace
}  // namespace dsv32
