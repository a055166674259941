#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace dsv32 {

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void Tensor::FreeDeleter::operator()(std::byte* p) const { std::free(p); }

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)) {
  nbytes_ = static_cast<size_t>(NumElements(shape_)) * DTypeSize(dtype_);
  const size_t rounded = (nbytes_ + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded == 0 ? 64 : rounded);
  data_.reset(static_cast<std::byte*>(p));
}

TensorView Tensor::view(std::string name) const {
  return TensorView{std::move(name), dtype_, shape_, data_.get(), nbytes_};
}

Result<std::vector<float>> ToF32(const TensorView& view) {
  const auto n = static_cast<size_t>(view.numel());
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    switch (view.dtype) {
      case DType::kF32: {
        std::memcpy(&out[i], view.data + 4 * i, 4);
        break;
      }
      case DType::kBF16: {
        uint16_t v;
        std::memcpy(&v, view.data + 2 * i, 2);
        out[i] = BF16ToF32(v);
        break;
      }
      case DType::kF16: {
        uint16_t v;
        std::memcpy(&v, view.data + 2 * i, 2);
        out[i] = F16ToF32(v);
        break;
      }
      case DType::kF8E4M3:
        out[i] = Fp8E4M3ToF32(static_cast<uint8_t>(view.data[i]));
        break;
      default:
        return InvalidArgument("tensor '" + view.name + "' has dtype " +
                               std::string(DTypeName(view.dtype)) +
                               ", expected a floating type");
    }
  }
  return out;
}

}  // namespace dsv32
