#include "quant/int4_tensors.h"

#include <string>

#include "quant/int4.h"

namespace dsv32 {

namespace {

Status Expect(const TensorView& t, DType dtype, const Shape& shape) {
  if (t.dtype != dtype || t.shape != shape) {
    return FormatError(t.name + ": expected " + std::string(DTypeName(dtype)) + " " +
                       ShapeToString(shape) + ", found " + std::string(DTypeName(t.dtype)) + " " +
                       ShapeToString(t.shape));
  }
  return Status::Ok();
}

}  // namespace

Result<QuantMatrix> Int4MatrixFromTensors(const TensorView& weight, const TensorView& scale,
                                          const TensorView* zero, int64_t cols, int64_t group) {
  if (!IsValidInt4Group(group)) {
    return Unsupported(weight.name + ": INT4 group " + std::to_string(group) +
                       " is not a multiple of 32");
  }
  if (weight.rank() != 2 || cols <= 0) {
    return FormatError(weight.name + ": INT4 weight must be 2-D with a positive column count");
  }
  const int64_t rows = weight.dim(0);
  const int64_t groups = (cols + group - 1) / group;
  DSV32_RETURN_IF_ERROR(Expect(weight, DType::kU8, {rows, Int4RowBytes(cols)}));
  DSV32_RETURN_IF_ERROR(Expect(scale, DType::kF32, {rows, groups}));
  if (zero) DSV32_RETURN_IF_ERROR(Expect(*zero, DType::kU8, {rows, groups}));
  QuantMatrix m;
  m.name = weight.name;
  m.format = WeightFormat::kInt4;
  m.rows = rows;
  m.cols = cols;
  m.data = weight.data;
  m.scales = scale.as<float>();
  m.zeros = zero ? zero->as<uint8_t>() : nullptr;
  m.block_rows = 1;
  m.block_cols = group;
  return m;
}

}  // namespace dsv32
