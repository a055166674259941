// The FP8 GEMV on the f32-bits decode (Fp8Decode::kF32Bits), on every
// target Highway compiled that this CPU runs: exact for every code,
// subnormals included, and its fallbacks where it cannot be: subnormals
// flushed by the thread (MXCSR.DAZ), scaled activations that would overflow.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "hwy/tests/hwy_gtest.h"
#include "quant/kernels.h"
#include "quant/matrix.h"
#include "test_matrices.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace dsv32 {
namespace {

// Row c holds code c in column c % cols and zeros elsewhere.
struct EveryCode {
  explicit EveryCode(int64_t cols) : codes(static_cast<size_t>(256 * cols), 0), scales(2, 0.5f) {
    for (int c = 0; c < 256; ++c) {
      codes[static_cast<size_t>(c * cols + c % cols)] = static_cast<uint8_t>(c);
    }
    m.format = WeightFormat::kFp8Block;
    m.rows = 256;
    m.cols = cols;
    m.data = codes.data();
    m.scales = scales.data();
  }
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  QuantMatrix m;
};

// Within f32 rounding of the partial sums, as matmul_test holds every kernel.
void ExpectNearReference(const QuantMatrix& m, const std::vector<float>& x, int64_t tokens,
                         const std::vector<float>& got) {
  std::vector<float> want(got.size());
  MatMulReference(m, x.data(), tokens, want.data());
  const std::vector<float> scale = AbsDot(m, x.data(), tokens);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "out " << i;
    ASSERT_NEAR(got[i], want[i], 1e-5f * scale[i] + 1e-30f)
        << "out " << i << " on " << ChosenKernelTarget();
  }
}

class Fp8F32BitsTest : public hwy::TestWithParamTarget {};
HWY_TARGET_INSTANTIATE_TEST_SUITE_P(Fp8F32BitsTest);

// Every code, at every lane of a step (the column is c % 64), times one.
TEST_P(Fp8F32BitsTest, EveryCodeDecodesExactly) {
  EveryCode w(64);
  w.scales.assign(2, 0.5f);
  const std::vector<float> x(64, 1.0f);
  std::vector<float> y(256, -1.0f);
  if (!MatVecFp8F32Bits(w.m, x.data(), 1, y.data(), nullptr)) {
    GTEST_SKIP() << "no f32-bits decode on " << ChosenKernelTarget();
  }
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;  // NaN codes, never in weights
    EXPECT_EQ(y[static_cast<size_t>(c)], Fp8E4M3ToF32(static_cast<uint8_t>(c)) * 0.5f)
        << "code " << c;
  }
}

// Ragged shapes: columns past the last whole step, several column and row
// blocks, every token group size, on one thread and three.
TEST_P(Fp8F32BitsTest, MatchesReference) {
  std::mt19937 rng(11);
  ThreadPool pool(3);
  for (const auto& [rows, cols] : {std::pair{5, 100}, {37, 300}, {131, 257}, {133, 1000}}) {
    const TestMatrix w = RandomMatrix(WeightFormat::kFp8Block, rows, cols, 128, false, rng);
    for (int64_t tokens : {1, 2, 3, 4, 7, 12}) {
      const std::vector<float> x = RandomVector(tokens * cols, rng);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<float> y(static_cast<size_t>(tokens * rows), -1.0f);
        if (!MatVecFp8F32Bits(w.m, x.data(), tokens, y.data(), p)) {
          GTEST_SKIP() << "no f32-bits decode on " << ChosenKernelTarget();
        }
        ExpectNearReference(w.m, x, tokens, y);
      }
    }
  }
}

// Activations times 2^120 overflow where |x * scale| reaches 2^8: such
// blocks of rows take the f16 decode, the others keep theirs.
TEST_P(Fp8F32BitsTest, BlocksOfRowsThatWouldOverflowStayFinite) {
  std::mt19937 rng(12);
  TestMatrix w = RandomMatrix(WeightFormat::kFp8Block, 300, 256, 128, false, rng);
  w.scales[2] = 1e3f;  // the second block of rows, its first column block
  std::vector<float> x = RandomVector(2 * 256, rng);
  x[5] = 4e3f;
  std::vector<float> y(600, -1.0f);
  if (!MatVecFp8F32Bits(w.m, x.data(), 2, y.data(), nullptr)) {
    GTEST_SKIP() << "no f32-bits decode on " << ChosenKernelTarget();
  }
  ExpectNearReference(w.m, x, 2, y);
}

// Blocks not a multiple of a step wide (40 columns) and other formats are
// declined, y untouched; MatVec then runs the f16 decode.
TEST_P(Fp8F32BitsTest, DeclinesWhatItDoesNotCover) {
  ExpectDeclines([](const QuantMatrix& w, const float* x,
                    float* y) { return MatVecFp8F32Bits(w, x, 1, y, nullptr); },
                 40);
  std::mt19937 rng(13);
  const TestMatrix fp8 = RandomMatrix(WeightFormat::kFp8Block, 9, 100, 40, false, rng);
  const std::vector<float> x = RandomVector(100, rng);
  std::vector<float> y(9, -1.0f);
  MatVec(fp8.m, x.data(), 1, y.data(), nullptr, Fp8Decode::kF32Bits);
  ExpectNearReference(fp8.m, x, 1, y);
}

// y = W^T x (MLA's absorbed decode) with the f32-bits decode, against the
// sum over rows of the dequantized weights in double: rows of whole steps
// (512 columns as in V3.2's kv_b_proj, 256, 128), rows that are not (96, a
// block of 40: the f16 decode), and x large enough that 2^120 would
// overflow it (the f16 decode as well).
TEST_P(Fp8F32BitsTest, TransposedMatchesReference) {
  std::mt19937 rng(14);
  struct Case {
    int64_t rows, cols, block;
    float x_scale;
  };
  for (const Case& c :
       {Case{40, 512, 128, 1.0f}, Case{133, 256, 128, 1.0f}, Case{300, 128, 128, 1.0f},
        Case{20, 96, 128, 1.0f}, Case{17, 120, 40, 1.0f}, Case{40, 512, 128, 1e5f}}) {
    const TestMatrix w = RandomMatrix(WeightFormat::kFp8Block, c.rows, c.cols, c.block, false, rng);
    std::vector<float> x = RandomVector(c.rows, rng);
    for (float& v : x) v *= c.x_scale;
    std::vector<double> want(static_cast<size_t>(c.cols)), scale(want.size());
    std::vector<float> row(static_cast<size_t>(c.cols));
    for (int64_t r = 0; r < c.rows; ++r) {
      DequantizeRow(w.m, r, row.data());
      for (int64_t k = 0; k < c.cols; ++k) {
        const double term = double{x[static_cast<size_t>(r)]} * row[static_cast<size_t>(k)];
        want[static_cast<size_t>(k)] += term;
        scale[static_cast<size_t>(k)] += std::abs(term);
      }
    }
    std::vector<float> got(static_cast<size_t>(c.cols), -1.0f);
    MatVecTransposed(w.m, x.data(), got.data(), Fp8Decode::kF32Bits);
    for (int64_t k = 0; k < c.cols; ++k) {
      ASSERT_NEAR(got[static_cast<size_t>(k)], want[static_cast<size_t>(k)],
                  1e-5 * scale[static_cast<size_t>(k)] + 1e-30)
          << c.rows << "x" << c.cols << " block " << c.block << " col " << k << " on "
          << ChosenKernelTarget();
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// With denormals-are-zero set, as -ffast-math code sets it, the decode
// would read subnormal codes as zero: it declines, and MatVec's f16 decode
// still gives them exactly.
TEST_P(Fp8F32BitsTest, DeclinesWhereSubnormalsAreFlushed) {
  EveryCode w(64);
  const std::vector<float> x(64, 1.0f);
  std::vector<float> y(256, -1.0f);
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x40);  // DAZ
  const bool ran = MatVecFp8F32Bits(w.m, x.data(), 1, y.data(), nullptr);
  MatVec(w.m, x.data(), 1, y.data(), nullptr, Fp8Decode::kF32Bits);
  _mm_setcsr(saved);
  EXPECT_FALSE(ran);
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    EXPECT_EQ(y[static_cast<size_t>(c)], Fp8E4M3ToF32(static_cast<uint8_t>(c)) * 0.5f)
        << "code " << c;
  }
}
#endif

}  // namespace
}  // namespace dsv32
