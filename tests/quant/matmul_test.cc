// Every kernel against MatMulReference, on every target Highway compiled
// that this CPU runs, on ragged shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "hwy/tests/hwy_gtest.h"
#include "quant/kernels.h"
#include "quant/matrix.h"
#include "test_matrices.h"

namespace dsv32 {
namespace {

// The kernels sum in a different order than the reference, so each output
// may differ by f32 rounding of the partial sums: we allow 1e-5 of
// sum_k |w_k x_k| (about 100 ulps of the largest partial sum), far below
// what any indexing or scaling mistake would produce.
constexpr float kRelativeTolerance = 1e-5f;

using Kernel = std::function<void(const QuantMatrix&, const float*, int64_t, float*)>;

struct Shape2 {
  int64_t rows, cols;
};

// Shapes with odd row counts, columns not a multiple of any vector, block or
// group, FP8 edge blocks that are partial in both directions.
constexpr Shape2 kShapes[] = {{1, 1}, {7, 5}, {37, 300}, {131, 257}, {64, 1000}, {3, 4100}};

struct Case {
  WeightFormat format;
  int64_t block;
  bool asymmetric;
  const char* name;
};

constexpr Case kCases[] = {
    {WeightFormat::kF32, 0, false, "f32"},
    {WeightFormat::kBF16, 0, false, "bf16"},
    {WeightFormat::kFp8Block, 128, false, "fp8-128"},
    {WeightFormat::kFp8Block, 40, false, "fp8-40"},
    {WeightFormat::kInt4, 32, false, "int4-g32"},
    {WeightFormat::kInt4, 128, false, "int4-g128"},
    {WeightFormat::kInt4, 32, true, "int4-g32-asym"},
    {WeightFormat::kInt4, 128, true, "int4-g128-asym"},
    // A group size without a kernel of its own.
    {WeightFormat::kInt4, 64, true, "int4-g64-asym"},
};

// What a kernel does to INT4 activations: kExact keeps them; kInt8Dot is
// MatVec's default, which rounds them to int8 where Int4DotRoundsActivations
// says so, and is then held to the reference on the rounded activations;
// kMatMul is MatMul's, which does that up to kMatVecMaxTokens tokens.
enum class Int4Activations { kExact, kInt8Dot, kMatMul };

void ExpectMatches(const Kernel& kernel, const std::vector<int64_t>& token_counts,
                   const std::vector<Shape2>& shapes = {std::begin(kShapes), std::end(kShapes)},
                   Int4Activations int4 = Int4Activations::kExact, bool int4_only = false) {
  std::mt19937 rng(1234);
  for (const Case& c : kCases) {
    if (int4_only && c.format != WeightFormat::kInt4) continue;
    for (const Shape2& s : shapes) {
      TestMatrix t = RandomMatrix(c.format, s.rows, s.cols, c.block, c.asymmetric, rng);
      const bool int8 = int4 != Int4Activations::kExact && Int4DotRoundsActivations(t.m);
      for (int64_t tokens : token_counts) {
        const bool rounds =
            int8 && (int4 == Int4Activations::kInt8Dot || tokens <= kMatVecMaxTokens);
        const auto x = RandomVector(tokens * s.cols, rng);
        std::vector<float> seen = x;
        if (rounds) RoundActivationsToInt8(x.data(), tokens, s.cols, seen.data());
        std::vector<float> want(static_cast<size_t>(tokens * s.rows));
        std::vector<float> got(want.size(), -1.0f);
        MatMulReference(t.m, seen.data(), tokens, want.data());
        kernel(t.m, x.data(), tokens, got.data());
        const auto scale = AbsDot(t.m, seen.data(), tokens);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], kRelativeTolerance * scale[i] + 1e-30f)
              << c.name << " " << s.rows << "x" << s.cols << " tokens " << tokens << " out " << i
              << " on " << ChosenKernelTarget();
        }
      }
    }
  }
}

// Every token group size of MatVec (one to eight) and splits into several.
const std::vector<int64_t> kFewTokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 17};
// 33 and 80 make a whole panel on every target, 80 a half last panel on
// AVX-512 (64 + 16 tokens).
const std::vector<int64_t> kManyTokens = {1, 9, 33, 80};

class MatMulTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(MatMulTest);

TEST_P(MatMulTest, MatVecMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatVec(w, x, tokens, y, nullptr); },
                kFewTokens, {std::begin(kShapes), std::end(kShapes)}, Int4Activations::kInt8Dot);
}

TEST_P(MatMulTest, MatVecWithInt4F32MatchesReference) {
  ExpectMatches(
      [](const QuantMatrix& w, const float* x, int64_t tokens, float* y) {
        MatVec(w, x, tokens, y, nullptr, Fp8Decode::kBits, Int4Dot::kF32);
      },
      {1, 2, 3, 9}, {std::begin(kShapes), std::end(kShapes)}, Int4Activations::kExact, true);
}

// Each block of 32 columns is rounded to the nearest of 255 steps of
// max |x| / 127, zeros stay zeros, and the row's tail block is its own.
TEST_P(MatMulTest, RoundActivationsToInt8StaysWithinHalfAStep) {
  std::mt19937 rng(7);
  for (int64_t cols : {1, 31, 32, 33, 100, 7168}) {
    auto x = RandomVector(2 * cols, rng);
    for (int64_t c = 0; c < cols; c += 3) x[static_cast<size_t>(c)] = 0.0f;
    std::vector<float> rounded(x.size());
    RoundActivationsToInt8(x.data(), 2, cols, rounded.data());
    for (int64_t t = 0; t < 2; ++t) {
      for (int64_t b = 0; b < cols; b += 32) {
        float amax = 0.0f;
        for (int64_t c = b; c < std::min(cols, b + 32); ++c) {
          amax = std::max(amax, std::abs(x[static_cast<size_t>(t * cols + c)]));
        }
        for (int64_t c = b; c < std::min(cols, b + 32); ++c) {
          const size_t i = static_cast<size_t>(t * cols + c);
          ASSERT_LE(std::abs(rounded[i] - x[i]), amax / 127.0f * 0.5001f) << cols << " " << c;
          if (x[i] == 0.0f) {
            ASSERT_EQ(rounded[i], 0.0f);
          }
        }
      }
    }
  }
}

TEST_P(MatMulTest, MatVecWithFp8TableMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatVec(w, x, tokens, y, nullptr, Fp8Decode::kTable); },
                {1, 3, 5}, {std::begin(kShapes), std::end(kShapes)}, Int4Activations::kInt8Dot);
}

// FP8 on the f32-bits decode where it applies (blocks of 128) and the f16
// decode where not (blocks of 40); every other format as MatVec's default.
TEST_P(MatMulTest, MatVecWithFp8F32BitsMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatVec(w, x, tokens, y, nullptr, Fp8Decode::kF32Bits); },
                kFewTokens, {std::begin(kShapes), std::end(kShapes)}, Int4Activations::kInt8Dot);
}

TEST_P(MatMulTest, MatMulTiledMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatMulTiled(w, x, tokens, y, nullptr); },
                kManyTokens);
}

TEST_P(MatMulTest, MatMulTiledManyTokensMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatMulTiled(w, x, tokens, y, nullptr); },
                {150, 300}, {{37, 300}});
}

// More tokens than one pass takes (512): 1100 are three passes of 367,
// each writing its own rows of y.
TEST_P(MatMulTest, MatMulTiledSeveralPassesMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatMulTiled(w, x, tokens, y, nullptr); },
                {1100}, {{37, 150}});
}

// Rows past one slab of sums (816 rows at 300 tokens on AVX-512), so the
// second slab's sums are written to y from a row offset.
TEST_P(MatMulTest, MatMulTiledSeveralSlabsMatchesReference) {
  ExpectMatches([](const QuantMatrix& w, const float* x, int64_t tokens,
                   float* y) { MatMulTiled(w, x, tokens, y, nullptr); },
                {300}, {{1000, 40}});
}

// y = W^T x against the sum over rows of the dequantized weights, in double.
TEST_P(MatMulTest, MatVecTransposedMatchesReference) {
  std::mt19937 rng(31);
  for (const Case& c : kCases) {
    for (const Shape2& s : kShapes) {
      TestMatrix t = RandomMatrix(c.format, s.rows, s.cols, c.block, c.asymmetric, rng);
      const auto x = RandomVector(s.rows, rng);
      std::vector<double> want(static_cast<size_t>(s.cols)), scale(want.size());
      std::vector<float> row(static_cast<size_t>(s.cols));
      for (int64_t r = 0; r < s.rows; ++r) {
        DequantizeRow(t.m, r, row.data());
        for (int64_t k = 0; k < s.cols; ++k) {
          want[static_cast<size_t>(k)] += double{x[static_cast<size_t>(r)]} * row[k];
          scale[static_cast<size_t>(k)] += std::abs(double{x[static_cast<size_t>(r)]} * row[k]);
        }
      }
      std::vector<float> got(static_cast<size_t>(s.cols), -1.0f);
      MatVecTransposed(t.m, x.data(), got.data());
      for (int64_t k = 0; k < s.cols; ++k) {
        ASSERT_NEAR(got[k], want[k], kRelativeTolerance * scale[k] + 1e-30)
            << c.name << " " << s.rows << "x" << s.cols << " col " << k << " on "
            << ChosenKernelTarget();
      }
    }
  }
}

// The vectorized dequantization is DequantizeRow exactly, from any first
// row, except that INT4 subtracts the zero point after scaling (one more
// rounding: within an ulp or two of the value).
TEST_P(MatMulTest, DequantizeRowsEqualsDequantizeRow) {
  std::mt19937 rng(99);
  for (const Case& c : kCases) {
    for (const Shape2& s : kShapes) {
      TestMatrix t = RandomMatrix(c.format, s.rows, s.cols, c.block, c.asymmetric, rng);
      const int64_t row0 = s.rows / 3, count = s.rows - row0;
      std::vector<float> got(static_cast<size_t>(count * s.cols), -1.0f);
      DequantizeRows(t.m, row0, count, got.data());
      std::vector<float> want(static_cast<size_t>(s.cols));
      for (int64_t r = 0; r < count; ++r) {
        DequantizeRow(t.m, row0 + r, want.data());
        for (int64_t k = 0; k < s.cols; ++k) {
          const float g = got[static_cast<size_t>(r * s.cols + k)];
          const float w = want[static_cast<size_t>(k)];
          if (c.format == WeightFormat::kInt4) {
            ASSERT_NEAR(g, w, 3e-7f * std::max(1.0f, std::abs(w)))
                << c.name << " " << s.rows << "x" << s.cols << " row " << row0 + r << " col " << k;
          } else {
            ASSERT_EQ(g, w) << c.name << " " << s.rows << "x" << s.cols << " row " << row0 + r
                            << " col " << k;
          }
        }
      }
    }
  }
}

// A view of some rows multiplies exactly as those rows of the whole matrix;
// FP8 views start only on a block of rows, where the scales line up.
TEST(MatMulEdgeTest, RowsOfIsThoseRowsOfTheMatrix) {
  std::mt19937 rng(7);
  for (const Case& c : kCases) {
    for (const Shape2& s : kShapes) {
      if (s.rows < 3) continue;
      TestMatrix t = RandomMatrix(c.format, s.rows, s.cols, c.block, c.asymmetric, rng);
      int64_t row0 = s.rows / 3;
      if (c.format == WeightFormat::kFp8Block) {
        row0 = (row0 + c.block - 1) / c.block * c.block;
        if (row0 >= s.rows) row0 = 0;
        EXPECT_FALSE(HasRowsView(t.m, row0 + 1, 1)) << c.name;
      }
      const int64_t count = s.rows - row0;
      ASSERT_TRUE(HasRowsView(t.m, row0, count)) << c.name << " " << s.rows << "x" << s.cols;
      EXPECT_FALSE(HasRowsView(t.m, row0, count + 1)) << c.name;
      const auto x = RandomVector(2 * s.cols, rng);
      std::vector<float> whole(static_cast<size_t>(2 * s.rows));
      std::vector<float> part(static_cast<size_t>(2 * count));
      MatMulReference(t.m, x.data(), 2, whole.data());
      MatMulReference(RowsOf(t.m, row0, count), x.data(), 2, part.data());
      for (int64_t tok = 0; tok < 2; ++tok) {
        for (int64_t r = 0; r < count; ++r) {
          ASSERT_EQ(part[static_cast<size_t>(tok * count + r)],
                    whole[static_cast<size_t>(tok * s.rows + row0 + r)])
              << c.name << " " << s.rows << "x" << s.cols << " row " << row0 + r;
        }
      }
    }
  }
}

TEST(MatMulEdgeTest, EmptyRowsGiveZeros) {
  QuantMatrix w;
  w.rows = 3;
  w.cols = 0;
  std::vector<float> y(6, -1.0f);
  MatMul(w, nullptr, 2, y.data(), nullptr);
  EXPECT_EQ(y, std::vector<float>(6, 0.0f));
  std::vector<float> y_tiled(3 * 20, -1.0f);
  MatMulTiled(w, nullptr, 20, y_tiled.data(), nullptr);
  EXPECT_EQ(y_tiled, std::vector<float>(3 * 20, 0.0f));
}

TEST_P(MatMulTest, MatMulOnTwoThreadsMatchesReference) {
  ThreadPool pool(2);
  ExpectMatches([&](const QuantMatrix& w, const float* x, int64_t tokens,
                    float* y) { MatMul(w, x, tokens, y, &pool); },
                {1, 2, 13, 40}, {std::begin(kShapes), std::end(kShapes)},
                Int4Activations::kMatMul);
}

}  // namespace
}  // namespace dsv32
