// Converters from f32 weights to the formats the kernels read. Each returns
// an owning matrix whose view() is a QuantMatrix ready for MatMul, and whose
// buffers are exactly the tensors docs/int4-format.md (INT4) and the official
// checkpoints (FP8: `weight` and `weight_scale_inv`) store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/status.h"
#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

struct Int4Options {
  int64_t group = 32;       // weights per scale along a row: 32 or 128 (any multiple of 32)
  bool asymmetric = false;  // per-group zero point instead of the fixed 8
};

struct Fp8Options {
  int64_t block = 128;  // block_rows = block_cols
  // Round each scale up to a power of two (the "ue8m0" scales some
  // checkpoints use), so dequantizing is an exponent add.
  bool ue8m0_scales = false;
};

// A quantized matrix that owns its buffers.
struct QuantizedMatrix {
  WeightFormat format = WeightFormat::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t block_rows = 1;
  int64_t block_cols = 1;
  std::vector<uint8_t> data;   // packed weights (bf16 as little-endian pairs)
  std::vector<float> scales;   // [scale_rows, scale_cols]
  std::vector<uint8_t> zeros;  // kInt4 asymmetric only: [rows, scale_cols]

  QuantMatrix view(std::string name = {}) const;

  // The tensors that store this matrix in a checkpoint for the linear layer
  // `prefix` ("model.layers.0.mlp.down_proj"): `prefix.weight` and, by
  // format, `.weight_scale_inv` (FP8, as the official checkpoints name it),
  // `.weight_scale` and `.weight_zero` (INT4, docs/int4-format.md). They
  // point into this object, which must outlive the write.
  std::vector<TensorToWrite> Tensors(const std::string& prefix) const;
};

// w is [rows, cols] row-major f32. Symmetric: scale = max|w| / 7 per group
// and nibble = round(w / scale) + 8, so every weight is within scale / 2 of
// its dequantized value. Asymmetric: scale = (max - min) / 15 and a zero
// point that maps min and max into 0..15; every weight is within scale.
Result<QuantizedMatrix> QuantizeInt4(const float* w, int64_t rows, int64_t cols,
                                     const Int4Options& options, ThreadPool* pool = nullptr);

// Scale = max|w| / 448 per block (or the next power of two up), weight =
// E4M3(w / scale) rounded to nearest even: relative error at most 2^-4 for
// normal codes, absolute error at most 2^-10 * scale below them.
Result<QuantizedMatrix> QuantizeFp8Block(const float* w, int64_t rows, int64_t cols,
                                         const Fp8Options& options, ThreadPool* pool = nullptr);

// Round to nearest even bf16.
Result<QuantizedMatrix> ConvertToBF16(const float* w, int64_t rows, int64_t cols);

}  // namespace dsv32
