#include <vector>

#include "quant/int4.h"
#include "quant/matrix.h"

namespace dsv32 {

size_t QuantMatrix::bytes() const {
  const auto n = static_cast<size_t>(rows * cols);
  switch (format) {
    case WeightFormat::kF32:
      return 4 * n;
    case WeightFormat::kBF16:
      return 2 * n;
    case WeightFormat::kFp8Block:
      return n + 4 * static_cast<size_t>(scale_rows() * scale_cols());
    case WeightFormat::kInt4: {
      const auto groups = static_cast<size_t>(rows * scale_cols());
      return static_cast<size_t>(rows * Int4RowBytes(cols)) + 4 * groups + (zeros ? groups : 0);
    }
  }
  return 0;
}

bool HasRowsView(const QuantMatrix& w, int64_t row0, int64_t count) {
  if (row0 < 0 || count < 0 || row0 + count > w.rows) return false;
  return w.format != WeightFormat::kFp8Block || row0 % w.block_rows == 0;
}

QuantMatrix RowsOf(const QuantMatrix& w, int64_t row0, int64_t count) {
  QuantMatrix v = w;
  v.rows = count;
  switch (w.format) {
    case WeightFormat::kF32:
      v.data = static_cast<const float*>(w.data) + row0 * w.cols;
      break;
    case WeightFormat::kBF16:
      v.data = static_cast<const uint16_t*>(w.data) + row0 * w.cols;
      break;
    case WeightFormat::kFp8Block:
      v.data = static_cast<const uint8_t*>(w.data) + row0 * w.cols;
      v.scales = w.scales + (row0 / w.block_rows) * w.scale_cols();
      break;
    case WeightFormat::kInt4:
      // block_rows is 1: one row of groups per row.
      v.data = static_cast<const uint8_t*>(w.data) + row0 * Int4RowBytes(w.cols);
      v.scales = w.scales + row0 * w.scale_cols();
      if (w.zeros) v.zeros = w.zeros + row0 * w.scale_cols();
      break;
  }
  return v;
}

void DequantizeRow(const QuantMatrix& w, int64_t row, float* out) {
  switch (w.format) {
    case WeightFormat::kF32: {
      const float* src = static_cast<const float*>(w.data) + row * w.cols;
      for (int64_t c = 0; c < w.cols; ++c) out[c] = src[c];
      break;
    }
    case WeightFormat::kBF16: {
      const uint16_t* src = static_cast<const uint16_t*>(w.data) + row * w.cols;
      for (int64_t c = 0; c < w.cols; ++c) out[c] = BF16ToF32(src[c]);
      break;
    }
    case WeightFormat::kFp8Block: {
      const uint8_t* src = static_cast<const uint8_t*>(w.data) + row * w.cols;
      const float* scale_row = w.scales + (row / w.block_rows) * w.scale_cols();
      for (int64_t c = 0; c < w.cols; ++c)
        out[c] = Fp8E4M3ToF32(src[c]) * scale_row[c / w.block_cols];
      break;
    }
    case WeightFormat::kInt4: {
      const uint8_t* src = static_cast<const uint8_t*>(w.data) + row * Int4RowBytes(w.cols);
      const int64_t group_row = row * w.scale_cols();
      for (int64_t c = 0; c < w.cols; ++c) {
        const int64_t g = group_row + c / w.block_cols;
        const int zero = w.zeros ? w.zeros[g] : kInt4SymmetricZero;
        out[c] = static_cast<float>(Int4Nibble(src, c) - zero) * w.scales[g];
      }
      break;
    }
  }
}

void MatMulReference(const QuantMatrix& w, const float* x, int64_t tokens, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeRow(w, r, row.data());
    for (int64_t m = 0; m < tokens; ++m) {
      const float* xm = x + m * w.cols;
      float acc = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) acc += row[static_cast<size_t>(c)] * xm[c];
      y[m * w.rows + r] = acc;
    }
  }
}

}  // namespace dsv32
