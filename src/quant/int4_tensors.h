// Reading an INT4 matrix back from the tensors docs/int4-format.md
// describes, with every shape and dtype checked.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"
#include "quant/matrix.h"

namespace dsv32 {

// weight: U8 [rows, Int4RowBytes(cols)]; scale: F32 [rows, ceil(cols / group)];
// zero: U8 of the scale's shape, or null for a symmetric matrix. `cols` and
// `group` come from the model config. The result points into the views.
Result<QuantMatrix> Int4MatrixFromTensors(const TensorView& weight, const TensorView& scale,
                                          const TensorView* zero, int64_t cols, int64_t group);

}  // namespace dsv32
