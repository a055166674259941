// A weight matrix in whatever format the checkpoint stores it, used in place.
// Rows are output features, columns input features (nn.Linear's layout), so
// y = x W^T.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

namespace dsv32 {

class ThreadPool;

enum class WeightFormat {
  kF32,
  kBF16,
  kFp8Block,  // E4M3 with one f32 scale per block_rows x block_cols block
};

struct QuantMatrix {
  std::string name;
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  // kFp8Block: scales[(r / block_rows) * scale_cols + c / block_cols].
  const float* scales = nullptr;
  int64_t block_rows = 128;
  int64_t block_cols = 128;

  int64_t scale_cols() const { return (cols + block_cols - 1) / block_cols; }
  int64_t scale_rows() const { return (rows + block_rows - 1) / block_rows; }
  // Bytes a full pass over the weights reads (data and scales).
  size_t bytes() const;
};

// Writes row `row` of W, dequantized, to out[0..cols).
void DequantizeRow(const QuantMatrix& w, int64_t row, float* out);

// y[m, :] = W x[m, :] for m in [0, tokens): x is [tokens, cols] and y is
// [tokens, rows], both row-major f32. Accumulates in f32.
void MatMul(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool);

// The plain scalar definition that every fast kernel is tested against.
void MatMulReference(const QuantMatrix& w, const float* x, int64_t tokens, float* y);

}  // namespace dsv32
