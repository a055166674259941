// The FP8 bf16-dot GEMV (the fast mode's decode kernel) against a plain
// definition of what it computes: each activation times its block scale,
// rounded to bf16 (nearest even), times the exact E4M3 value, summed; and
// its split form (Fp8Decode::kBf16Split), which must give the sums of the
// unrounded products, as the f32 path does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/matrix.h"
#include "test_matrices.h"

namespace dsv32 {
namespace {

// y[t][r] in double, with the scaled activations rounded to bf16 as the
// kernel rounds them, or (round false) as f32.
std::vector<double> RoundedReference(const QuantMatrix& m, const std::vector<float>& x,
                                     int64_t tokens, bool round = true) {
  const auto* codes = static_cast<const uint8_t*>(m.data);
  std::vector<double> y(static_cast<size_t>(tokens * m.rows));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t r = 0; r < m.rows; ++r) {
      double sum = 0.0;
      for (int64_t k = 0; k < m.cols; ++k) {
        const float s = m.scales[(r / m.block_rows) * m.scale_cols() + k / m.block_cols];
        const float scaled = x[static_cast<size_t>(t * m.cols + k)] * s;
        const float xs = round ? BF16ToF32(F32ToBF16(scaled)) : scaled;
        sum += static_cast<double>(Fp8E4M3ToF32(codes[r * m.cols + k])) * xs;
      }
      y[static_cast<size_t>(t * m.rows + r)] = sum;
    }
  }
  return y;
}

using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // rows, cols, block, tokens

// MatVecFp8Bf16 on random weights and activations, on one thread and three,
// against the double reference: f32 sums of exact products, so within a few
// ulps of the terms' magnitude. Split, the activations lose nothing, so the
// result also matches MatVec's f32 path to its own rounding.
void ExpectMatchesReference(const Shape& shape, bool split) {
  const auto [rows, cols, block, tokens] = shape;
  std::mt19937 rng(static_cast<unsigned>(rows * 131 + cols * 7 + tokens + (split ? 1 : 0)));
  const TestMatrix w = RandomMatrix(WeightFormat::kFp8Block, rows, cols, block, false, rng);
  const std::vector<float> x = RandomVector(tokens * cols, rng);
  const std::vector<float> scale = AbsDot(w.m, x.data(), tokens);
  ThreadPool pool(3);
  const std::vector<double> want = RoundedReference(w.m, x, tokens, /*round=*/!split);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    std::vector<float> y(static_cast<size_t>(tokens * rows), -1.0f);
    ASSERT_TRUE(MatVecFp8Bf16(w.m, x.data(), tokens, y.data(), p, split));
    std::vector<float> f32_path(y.size());
    if (split) MatVec(w.m, x.data(), tokens, f32_path.data(), p, Fp8Decode::kBits);
    for (size_t i = 0; i < y.size(); ++i) {
      EXPECT_NEAR(y[i], want[i], 1e-6 * scale[i] + 1e-30)
          << "index " << i << (p ? ", 3 threads" : "");
      if (split) {
        EXPECT_NEAR(y[i], f32_path[i], 2e-6 * scale[i] + 1e-30) << "index " << i;
      }
    }
  }
}

class Fp8Bf16DotTest : public ::testing::TestWithParam<Shape> {};

TEST_P(Fp8Bf16DotTest, MatchesRoundedActivationsReference) {
  if (!Bf16DotAvailable()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  ExpectMatchesReference(GetParam(), /*split=*/false);
}

TEST_P(Fp8Bf16DotTest, SplitMatchesExactActivationsReference) {
  if (!Bf16DotAvailable()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  ExpectMatchesReference(GetParam(), /*split=*/true);
}

// Columns: whole steps of 64, a partial last step, one block and several;
// rows: a few, past one block of rows (128) and not a multiple of four;
// tokens: one, two, a group of four and groups of uneven size.
INSTANTIATE_TEST_SUITE_P(Shapes, Fp8Bf16DotTest,
                         ::testing::Values(Shape{1, 64, 64, 1}, Shape{5, 100, 128, 1},
                                           Shape{9, 128, 128, 2}, Shape{37, 300, 128, 3},
                                           Shape{133, 513, 128, 4}, Shape{257, 256, 64, 7},
                                           Shape{70, 1000, 128, 12}));

TEST(Fp8Bf16DotEdgeTest, EveryCodeDecodesExactly) {
  if (!Bf16DotAvailable()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  // Row c holds code c in column c % 64 and zeros elsewhere; x is one, so
  // y[c] is the code's value times the block scale.
  constexpr int64_t kCols = 64;
  std::vector<uint8_t> codes(256 * kCols, 0);
  for (int c = 0; c < 256; ++c)
    codes[static_cast<size_t>(c * kCols + c % kCols)] = static_cast<uint8_t>(c);
  std::vector<float> scales(2, 0.5f);
  QuantMatrix m;
  m.format = WeightFormat::kFp8Block;
  m.rows = 256;
  m.cols = kCols;
  m.data = codes.data();
  m.scales = scales.data();
  const std::vector<float> x(kCols, 1.0f);
  std::vector<float> y(256);
  ASSERT_TRUE(MatVecFp8Bf16(m, x.data(), 1, y.data(), nullptr));
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN codes, never in weights
    EXPECT_EQ(y[static_cast<size_t>(c)], Fp8E4M3ToF32(static_cast<uint8_t>(c)) * 0.5f)
        << "code " << c;
  }
  // Split, an activation with bits in all three parts: 1 + 2^-10 + 2^-20
  // loses 2^-20 in the first two, so only the third part gets it right.
  const double one_plus = 1.0 + std::ldexp(1.0, -10) + std::ldexp(1.0, -20);
  const std::vector<float> x_split(kCols, static_cast<float>(one_plus));
  ASSERT_TRUE(MatVecFp8Bf16(m, x_split.data(), 1, y.data(), nullptr, /*split=*/true));
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    const double want = Fp8E4M3ToF32(static_cast<uint8_t>(c)) * 0.5 * one_plus;
    EXPECT_NEAR(y[static_cast<size_t>(c)], want, std::abs(want) * std::ldexp(1.0, -23))
        << "code " << c;
  }
}

// Blocks of 96 columns: a step of 64 would straddle two scales.
TEST(Fp8Bf16DotEdgeTest, DeclinesWhatItDoesNotCover) {
  ExpectDeclines([](const QuantMatrix& w, const float* x,
                    float* y) { return MatVecFp8Bf16(w, x, 1, y, nullptr); },
                 96);
}

// MatMulTiled with GemmPrecision::kBf16: the dequantized weights and the
// activations both rounded to bf16, exact products, f32 sums. Shapes cover
// an odd number of columns (a last pair with one column), columns past one
// block of 512, rows past one tile and token counts past one panel of 64
// and a half panel.
class Bf16GemmTest
    : public ::testing::TestWithParam<std::tuple<WeightFormat, int64_t, int64_t, int64_t>> {};

TEST_P(Bf16GemmTest, MatchesBf16RoundedReference) {
  if (!Bf16DotAvailable()) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  const auto [format, rows, cols, tokens] = GetParam();
  std::mt19937 rng(static_cast<unsigned>(rows * 31 + cols * 3 + tokens));
  const TestMatrix w =
      RandomMatrix(format, rows, cols, format == WeightFormat::kInt4 ? 32 : 128, false, rng);
  const std::vector<float> x = RandomVector(tokens * cols, rng);
  std::vector<float> row(static_cast<size_t>(cols));
  std::vector<double> want(static_cast<size_t>(tokens * rows));
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRow(w.m, r, row.data());
    for (int64_t t = 0; t < tokens; ++t) {
      double sum = 0.0;
      for (int64_t k = 0; k < cols; ++k) {
        sum += static_cast<double>(BF16ToF32(F32ToBF16(row[static_cast<size_t>(k)]))) *
               BF16ToF32(F32ToBF16(x[static_cast<size_t>(t * cols + k)]));
      }
      want[static_cast<size_t>(t * rows + r)] = sum;
    }
  }
  const std::vector<float> scale = AbsDot(w.m, x.data(), tokens);
  ThreadPool pool(2);
  std::vector<float> y(static_cast<size_t>(tokens * rows), -1.0f);
  MatMulTiled(w.m, x.data(), tokens, y.data(), &pool, GemmPrecision::kBf16);
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_NEAR(y[i], want[i], 2e-6 * scale[i] + 1e-30) << "index " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Bf16GemmTest,
    ::testing::Values(std::tuple{WeightFormat::kFp8Block, int64_t{7}, int64_t{129}, int64_t{13}},
                      std::tuple{WeightFormat::kFp8Block, int64_t{50}, int64_t{700}, int64_t{70}},
                      std::tuple{WeightFormat::kFp8Block, int64_t{24}, int64_t{1100}, int64_t{100}},
                      std::tuple{WeightFormat::kBF16, int64_t{30}, int64_t{257}, int64_t{33}},
                      std::tuple{WeightFormat::kInt4, int64_t{25}, int64_t{96}, int64_t{20}},
                      std::tuple{WeightFormat::kF32, int64_t{49}, int64_t{64}, int64_t{600}}));

// MatMul takes the bf16 path only for matrices that allow it: with the flag
// the error is that of bf16 activations, without it that of f32 sums.
// One token (the split kernel in the default mode) and several (the f32 path).
class MatMulBf16PolicyTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(MatMulBf16PolicyTest, RoundsOnlyWhereTheMatrixAllows) {
  std::mt19937 rng(5);
  TestMatrix w = RandomMatrix(WeightFormat::kFp8Block, 64, 512, 128, false, rng);
  const int64_t kTokens = GetParam();
  const std::vector<float> x = RandomVector(kTokens * 512, rng);
  std::vector<float> exact(static_cast<size_t>(kTokens * 64)), y(exact.size());
  MatMulReference(w.m, x.data(), kTokens, exact.data());
  const std::vector<float> scale = AbsDot(w.m, x.data(), kTokens);
  double worst_exact = 0.0, worst_fast = 0.0;
  MatMul(w.m, x.data(), kTokens, y.data(), nullptr);
  for (size_t i = 0; i < y.size(); ++i)
    worst_exact = std::max(worst_exact, static_cast<double>(std::abs(y[i] - exact[i]) / scale[i]));
  w.m.bf16_activations = true;
  MatMul(w.m, x.data(), kTokens, y.data(), nullptr);
  for (size_t i = 0; i < y.size(); ++i)
    worst_fast = std::max(worst_fast, static_cast<double>(std::abs(y[i] - exact[i]) / scale[i]));
  EXPECT_LT(worst_exact, 1e-5);
  // bf16 keeps 8 significant bits: each activation within 2^-9 relative.
  EXPECT_LT(worst_fast, 1.0 / 512);
  if (Bf16DotAvailable()) {
    EXPECT_GT(worst_fast, worst_exact);
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, MatMulBf16PolicyTest, ::testing::Values(int64_t{1}, int64_t{4}));

}  // namespace
}  // namespace dsv32
