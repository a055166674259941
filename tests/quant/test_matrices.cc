#include "test_matrices.h"

#include <gtest/gtest.h>

#include <cmath>

#include "quant/int4.h"

namespace dsv32 {

TestMatrix RandomMatrix(WeightFormat format, int64_t rows, int64_t cols, int64_t block,
                        bool asymmetric, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  TestMatrix t;
  t.m.format = format;
  t.m.rows = rows;
  t.m.cols = cols;
  switch (format) {
    case WeightFormat::kF32: {
      t.data.resize(static_cast<size_t>(rows * cols * 4));
      auto* f = reinterpret_cast<float*>(t.data.data());
      for (int64_t i = 0; i < rows * cols; ++i) f[i] = value(rng);
      break;
    }
    case WeightFormat::kBF16: {
      t.data.resize(static_cast<size_t>(rows * cols * 2));
      auto* h = reinterpret_cast<uint16_t*>(t.data.data());
      for (int64_t i = 0; i < rows * cols; ++i) h[i] = F32ToBF16(value(rng));
      break;
    }
    case WeightFormat::kFp8Block: {
      t.m.block_rows = t.m.block_cols = block;
      t.data.resize(static_cast<size_t>(rows * cols));
      for (auto& b : t.data) {
        do b = static_cast<uint8_t>(byte(rng));
        while ((b & 0x7f) == 0x7f);
      }
      t.scales.resize(static_cast<size_t>(t.m.scale_rows() * t.m.scale_cols()));
      for (auto& s : t.scales) s = scale(rng);
      break;
    }
    case WeightFormat::kInt4: {
      t.m.block_rows = 1;
      t.m.block_cols = block;
      t.data.resize(static_cast<size_t>(rows * Int4RowBytes(cols)));
      for (auto& b : t.data) b = static_cast<uint8_t>(byte(rng));
      t.scales.resize(static_cast<size_t>(rows * t.m.scale_cols()));
      for (auto& s : t.scales) s = scale(rng);
      if (asymmetric) {
        t.zeros.resize(t.scales.size());
        for (auto& z : t.zeros) z = static_cast<uint8_t>(byte(rng) & 0xf);
      }
      break;
    }
  }
  t.m.data = t.data.data();
  t.m.scales = t.scales.empty() ? nullptr : t.scales.data();
  t.m.zeros = t.zeros.empty() ? nullptr : t.zeros.data();
  return t;
}

std::vector<float> RandomVector(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& f : v) f = normal(rng);
  return v;
}

std::vector<float> AbsDot(const QuantMatrix& w, const float* x, int64_t tokens) {
  std::vector<float> out(static_cast<size_t>(tokens * w.rows));
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeRow(w, r, row.data());
    if (w.format == WeightFormat::kInt4) {
      // The INT4 kernels sum q * scale * x and take zero * scale * x off per
      // group, so their rounding scales with (q + zero) * scale, not |w|.
      const auto* packed = static_cast<const uint8_t*>(w.data) + r * Int4RowBytes(w.cols);
      for (int64_t c = 0; c < w.cols; ++c) {
        const int64_t g = r * w.scale_cols() + c / w.block_cols;
        const int zero = w.zeros ? w.zeros[g] : kInt4SymmetricZero;
        row[static_cast<size_t>(c)] =
            static_cast<float>(Int4Nibble(packed, c) + zero) * w.scales[g];
      }
    }
    for (int64_t t = 0; t < tokens; ++t) {
      double acc = 0.0;
      for (int64_t c = 0; c < w.cols; ++c) acc += std::fabs(row[c] * x[t * w.cols + c]);
      out[static_cast<size_t>(t * w.rows + r)] = static_cast<float>(acc);
    }
  }
  return out;
}

void ExpectDeclines(const OneTokenPath& path, int64_t fp8_block) {
  std::mt19937 rng(3);
  const TestMatrix fp8 = RandomMatrix(WeightFormat::kFp8Block, 8, 96, fp8_block, false, rng);
  const TestMatrix bf16 = RandomMatrix(WeightFormat::kBF16, 8, 128, 128, false, rng);
  const std::vector<float> x = RandomVector(128, rng);
  std::vector<float> y(8, -1.0f);
  EXPECT_FALSE(path(fp8.m, x.data(), y.data())) << "FP8 blocks of " << fp8_block;
  EXPECT_FALSE(path(bf16.m, x.data(), y.data())) << "BF16";
  for (float v : y) EXPECT_EQ(v, -1.0f);
}

}  // namespace dsv32
