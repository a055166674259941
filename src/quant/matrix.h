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
  // Four bits per weight with one f32 scale (and, when `zeros` is set, one
  // zero point) per group of block_cols weights along a row; block_rows is 1.
  // The packing is described in quant/int4.h and docs/int4-format.md.
  kInt4,
};

struct QuantMatrix {
  std::string name;
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  // kFp8Block and kInt4: scales[(r / block_rows) * scale_cols + c / block_cols].
  const float* scales = nullptr;
  // kInt4 only: zero points (0..15), indexed like scales; null means
  // symmetric, every zero point 8.
  const uint8_t* zeros = nullptr;
  int64_t block_rows = 128;
  int64_t block_cols = 128;
  // Whether MatMul may round the activations it multiplies this matrix by to
  // bf16 where that is faster (the fast mode; FP8 on CPUs with AVX-512
  // BF16). False keeps them f32, the reference mode.
  bool bf16_activations = false;

  int64_t scale_cols() const { return (cols + block_cols - 1) / block_cols; }
  int64_t scale_rows() const { return (rows + block_rows - 1) / block_rows; }
  // Bytes a full pass over the weights reads (data, scales and zero points).
  size_t bytes() const;
};

// Whether rows [row0, row0 + count) of w can be viewed as a matrix of their
// own (RowsOf): always, except that FP8 views start on a block of rows, so
// they share the block scales as stored.
bool HasRowsView(const QuantMatrix& w, int64_t row0, int64_t count);

// Rows [row0, row0 + count) of w as a matrix of their own, in place (no
// copy); needs HasRowsView.
QuantMatrix RowsOf(const QuantMatrix& w, int64_t row0, int64_t count);

// Writes row `row` of W, dequantized, to out[0..cols).
void DequantizeRow(const QuantMatrix& w, int64_t row, float* out);

// y[m, :] = W x[m, :] for m in [0, tokens): x is [tokens, cols] and y is
// [tokens, rows], both row-major f32. Accumulates in f32. Picks the fastest
// kernel for the format, the token count and the CPU; `pool` may be null.
void MatMul(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool);

// The plain scalar definition that every fast kernel is tested against.
void MatMulReference(const QuantMatrix& w, const float* x, int64_t tokens, float* y);

}  // namespace dsv32
