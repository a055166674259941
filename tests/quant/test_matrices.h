// Random weight matrices in every format, with their storage, for the
// kernel and quantizer tests.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "quant/matrix.h"

namespace dsv32 {

struct TestMatrix {
  std::vector<uint8_t> data;
  std::vector<float> scales;
  std::vector<uint8_t> zeros;
  QuantMatrix m;
};

// block: FP8 block edge, or INT4 group. Every byte is random except that
// FP8 codes avoid NaN, so the padding of INT4 rows holds junk too.
TestMatrix RandomMatrix(WeightFormat format, int64_t rows, int64_t cols, int64_t block,
                        bool asymmetric, std::mt19937& rng);

std::vector<float> RandomVector(int64_t n, std::mt19937& rng);

// sum_k |W[r, k] x[t, k]|: the scale against which f32 rounding error of a
// dot product is measured (for INT4, of the terms the kernels add up).
std::vector<float> AbsDot(const QuantMatrix& w, const float* x, int64_t tokens);

// A special-purpose FP8 kernel's path (true where it ran) on matrices it
// must decline: FP8 with blocks of `fp8_block` columns, and BF16. Expects
// false and y untouched for both.
using OneTokenPath = std::function<bool(const QuantMatrix&, const float* x, float* y)>;
void ExpectDeclines(const OneTokenPath& path, int64_t fp8_block);

}  // namespace dsv32
