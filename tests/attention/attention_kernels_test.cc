// The Highway kernels against their scalar references, on every target
// this build compiled and this CPU runs, over ragged lengths.
#include "attention/attention_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "attention/kv_format.h"
#include "core/ops.h"
#include "hwy/targets.h"
#include "hwy_targets.h"

namespace dsv32 {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

class KernelTargets : public ::testing::Test {
 protected:
  template <typename Fn>
  void ForEachTarget(Fn fn) {
    testing::ForEachHwyTarget(fn);
  }
};

TEST_F(KernelTargets, DotAxpyScaleMatchScalar) {
  ForEachTarget([] {
    for (int64_t n : {0, 1, 3, 7, 16, 31, 64, 67, 576}) {
      const auto a = Random(static_cast<size_t>(n), 1), b = Random(static_cast<size_t>(n), 2);
      EXPECT_NEAR(KernelDot(a.data(), b.data(), n), Dot(a.data(), b.data(), n), 1e-5 * (1 + n))
          << n;
      auto y1 = b, y2 = b;
      KernelAxpy(0.75f, a.data(), y1.data(), n);
      Axpy(0.75f, a.data(), y2.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6);
      y1 = y2;
      KernelScale(-2.0f, y1.data(), n);
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y1[i], -2.0f * y2[i]);
      std::vector<float> rows = Random(static_cast<size_t>(3 * (n + 1)), 3), out(3);
      KernelDotRows(rows.data(), n + 1, 3, a.data(), n, out.data());
      for (int r = 0; r < 3; ++r)
        EXPECT_NEAR(out[r], Dot(&rows[r * (n + 1)], a.data(), n), 1e-5 * (1 + n));
    }
  });
}

TEST_F(KernelTargets, TransposedDotsAndWeightedSumsMatchScalar) {
  ForEachTarget([] {
    for (int64_t rows : {1, 9, 64, 77}) {
      for (int64_t dim : {3, 40, 130}) {
        const auto keys = Random(static_cast<size_t>(rows * dim), 8);
        const auto q = Random(static_cast<size_t>(dim), 9);
        const auto p = Random(static_cast<size_t>(rows), 10);
        std::vector<float> keys_t(keys.size()), out(static_cast<size_t>(rows));
        Transpose(keys.data(), rows, dim, keys_t.data());
        KernelDotTransposed(keys_t.data(), rows, dim, q.data(), out.data());
        for (int64_t r = 0; r < rows; ++r)
          EXPECT_NEAR(out[r], Dot(&keys[r * dim], q.data(), dim), 1e-4) << rows << " " << dim;
        std::vector<float> acc = Random(static_cast<size_t>(dim), 11), ref = acc;
        KernelWeightedSum(p.data(), keys.data(), rows, dim, dim, acc.data());
        for (int64_t r = 0; r < rows; ++r) Axpy(p[r], &keys[r * dim], ref.data(), dim);
        for (int64_t i = 0; i < dim; ++i) EXPECT_NEAR(acc[i], ref[i], 1e-4) << rows << " " << dim;
      }
    }
  });
}

TEST_F(KernelTargets, DecodeRowsMatchesScalarDecode) {
  ForEachTarget([] {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF8E4M3}) {
      for (int64_t dim : {1, 5, 64, 130}) {
        KvFieldFormat f{dtype, dim, dtype == DType::kF8E4M3 ? int64_t{64} : 0};
        const int64_t rows = 3;
        const auto x = Random(static_cast<size_t>(rows * dim), 4);
        std::vector<uint8_t> values(static_cast<size_t>(rows * f.value_bytes()));
        std::vector<uint8_t> scales(static_cast<size_t>(rows * f.scale_bytes()));
        for (int64_t r = 0; r < rows; ++r)
          EncodeKvField(f, &x[r * dim], values.data() + r * f.value_bytes(),
                        scales.data() + r * f.scale_bytes());
        std::vector<float> fast(x.size()), ref(x.size());
        KernelDecodeRows(f, values.data(), scales.data(), rows, fast.data());
        for (int64_t r = 0; r < rows; ++r)
          DecodeKvField(f, values.data() + r * f.value_bytes(), scales.data() + r * f.scale_bytes(),
                        &ref[r * dim]);
        EXPECT_EQ(fast, ref) << DTypeName(dtype) << " dim " << dim;
      }
    }
  });
}

}  // namespace
}  // namespace dsv32
