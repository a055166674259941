#include "quant/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "quant/int4.h"
#include "quant/int4_tensors.h"
#include "test_matrices.h"

namespace dsv32 {
namespace {

std::vector<float> Dequantize(const QuantMatrix& m) {
  std::vector<float> out(static_cast<size_t>(m.rows * m.cols));
  for (int64_t r = 0; r < m.rows; ++r) DequantizeRow(m, r, out.data() + r * m.cols);
  return out;
}

// Weights with a few outliers, as real projections have.
std::vector<float> Weights(int64_t n, std::mt19937& rng) {
  auto w = RandomVector(n, rng);
  for (size_t i = 0; i < w.size(); i += 97) w[i] *= 8.0f;
  return w;
}

struct Int4Case {
  int64_t group;
  bool asymmetric;
};

class QuantizeInt4Test : public testing::TestWithParam<Int4Case> {};

// Symmetric: every weight within scale / 2 of its dequantized value.
// Asymmetric: within scale (the zero point itself is rounded).
TEST_P(QuantizeInt4Test, RoundTripWithinHalfStep) {
  const Int4Case c = GetParam();
  std::mt19937 rng(7);
  const int64_t rows = 9, cols = 300;
  const auto w = Weights(rows * cols, rng);
  ThreadPool pool(2);
  auto q = QuantizeInt4(w.data(), rows, cols, {c.group, c.asymmetric}, &pool);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const QuantMatrix m = q->view("w");
  EXPECT_EQ(m.format, WeightFormat::kInt4);
  EXPECT_EQ(q->data.size(), static_cast<size_t>(rows * Int4RowBytes(cols)));
  EXPECT_EQ(q->scales.size(), static_cast<size_t>(rows * ((cols + c.group - 1) / c.group)));
  EXPECT_EQ(q->zeros.size(), c.asymmetric ? q->scales.size() : 0u);
  const auto back = Dequantize(m);
  double err2 = 0.0, norm2 = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t col = 0; col < cols; ++col) {
      const float scale = m.scales[r * m.scale_cols() + col / c.group];
      const float bound = (c.asymmetric ? 1.0f : 0.5f) * scale * (1.0f + 1e-5f);
      const size_t i = static_cast<size_t>(r * cols + col);
      ASSERT_LE(std::fabs(back[i] - w[i]), bound) << r << "," << col;
      err2 += (back[i] - w[i]) * (back[i] - w[i]);
      norm2 += w[i] * w[i];
    }
  }
  // Relative RMS error over the matrix, outliers included: about 0.1 for
  // group 32 and 0.26 for group 128, whose outliers stretch more scales.
  EXPECT_LT(std::sqrt(err2 / norm2), 0.3);
}

INSTANTIATE_TEST_SUITE_P(Groups, QuantizeInt4Test,
                         testing::Values(Int4Case{32, false}, Int4Case{128, false},
                                         Int4Case{32, true}, Int4Case{128, true}));

TEST(QuantizeInt4Test, KeepsZeroGroupsAndPadsWithZeroPoint) {
  std::vector<float> w(40, 0.0f);
  w[39] = -1.0f;
  auto q = QuantizeInt4(w.data(), 1, 40, {32, true});
  ASSERT_TRUE(q.ok());
  const auto back = Dequantize(q->view());
  for (int i = 0; i < 39; ++i) EXPECT_EQ(back[static_cast<size_t>(i)], 0.0f);
  EXPECT_FLOAT_EQ(back[39], -1.0f);
  // Columns 40..63 are padding, stored as the last group's zero point.
  const QuantMatrix m = q->view();
  for (int64_t c = 40; c < 64; ++c) EXPECT_EQ(Int4Nibble(q->data.data(), c), m.zeros[1]);
}

TEST(QuantizeInt4Test, RejectsBadGroupAndShape) {
  std::vector<float> w(64, 1.0f);
  EXPECT_FALSE(QuantizeInt4(w.data(), 1, 64, {48, false}).ok());
  EXPECT_FALSE(QuantizeInt4(w.data(), 0, 64, {32, false}).ok());
  EXPECT_FALSE(QuantizeInt4(nullptr, 1, 64, {32, false}).ok());
}

class QuantizeFp8Test : public testing::TestWithParam<bool> {};

// Relative error at most 2^-4 (half a step of a 3-bit mantissa) for values
// in the normal range, absolute 2^-10 * scale in the subnormal one.
TEST_P(QuantizeFp8Test, RoundTripWithinHalfUlp) {
  const bool ue8m0 = GetParam();
  std::mt19937 rng(11);
  const int64_t rows = 200, cols = 300;  // partial edge blocks both ways
  const auto w = Weights(rows * cols, rng);
  auto q = QuantizeFp8Block(w.data(), rows, cols, {128, ue8m0});
  ASSERT_TRUE(q.ok()) << q.status().message();
  const QuantMatrix m = q->view();
  ASSERT_EQ(q->scales.size(), 2u * 3u);
  const auto back = Dequantize(m);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float scale = m.scales[(r / 128) * m.scale_cols() + c / 128];
      if (ue8m0) {
        int e;
        ASSERT_EQ(std::frexp(scale, &e), 0.5f) << "scale not a power of two";
      }
      const size_t i = static_cast<size_t>(r * cols + c);
      const float bound =
          std::max(std::fabs(w[i]) * 0.0625f, scale * std::ldexp(1.0f, -10)) * (1.0f + 1e-5f);
      ASSERT_LE(std::fabs(back[i] - w[i]), bound) << r << "," << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scales, QuantizeFp8Test, testing::Bool());

TEST(QuantizeFp8Test, BlockMaximumIsExact) {
  std::vector<float> w = {0.5f, -3.0f, 1.0f, 0.0f};
  auto q = QuantizeFp8Block(w.data(), 2, 2, {128, false});
  ASSERT_TRUE(q.ok());
  const auto back = Dequantize(q->view());
  EXPECT_FLOAT_EQ(back[1], -3.0f);
  EXPECT_EQ(back[3], 0.0f);
}

TEST(ConvertToBF16Test, RoundsToNearest) {
  std::vector<float> w = {1.0f, 1.00390625f, -2.5f};
  auto q = ConvertToBF16(w.data(), 1, 3);
  ASSERT_TRUE(q.ok());
  const auto back = Dequantize(q->view());
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f);
  EXPECT_EQ(back[2], -2.5f);
}

}  // namespace
}  // namespace dsv32

namespace dsv32 {
namespace {

// A quantized matrix written as the tensors of docs/int4-format.md and read
// back multiplies exactly like the original.
TEST(Int4TensorsTest, SafetensorsRoundTrip) {
  std::mt19937 rng(3);
  const int64_t rows = 5, cols = 100, group = 32;
  const auto w = RandomVector(rows * cols, rng);
  auto q = QuantizeInt4(w.data(), rows, cols, {group, true});
  ASSERT_TRUE(q.ok());
  const std::string path = testing::TempDir() + "int4_roundtrip.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, q->Tensors("layer.down_proj")).ok());
  auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const TensorView* weight = (*file)->Find("layer.down_proj.weight");
  const TensorView* scale = (*file)->Find("layer.down_proj.weight_scale");
  const TensorView* zero = (*file)->Find("layer.down_proj.weight_zero");
  ASSERT_TRUE(weight && scale && zero);
  auto m = Int4MatrixFromTensors(*weight, *scale, zero, cols, group);
  ASSERT_TRUE(m.ok()) << m.status().message();

  const auto x = RandomVector(cols, rng);
  std::vector<float> want(rows), got(rows);
  MatMulReference(q->view(), x.data(), 1, want.data());
  MatMulReference(*m, x.data(), 1, got.data());
  EXPECT_EQ(want, got);

  EXPECT_FALSE(Int4MatrixFromTensors(*weight, *scale, zero, cols, 128).ok());
  EXPECT_FALSE(Int4MatrixFromTensors(*weight, *scale, zero, cols + 40, group).ok());
  EXPECT_FALSE(Int4MatrixFromTensors(*scale, *scale, zero, cols, group).ok());
}

}  // namespace
}  // namespace dsv32
