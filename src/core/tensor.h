// A tensor is a dtype, a shape and bytes. TensorView borrows the bytes (from
// an mmap'd checkpoint, say) so weights stay in their stored dtype; Tensor
// owns them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsv32 {

using Shape = std::vector<int64_t>;

std::string ShapeToString(const Shape& shape);
int64_t NumElements(const Shape& shape);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const { return NumElements(shape); }
  int rank() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i)]; }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data);
  }
};

// Owned tensor with 64-byte aligned storage.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return NumElements(shape_); }
  size_t nbytes() const { return nbytes_; }
  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.get());
  }
  TensorView view(std::string name = {}) const;

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const;
  };
  DType dtype_ = DType::kF32;
  Shape shape_;
  size_t nbytes_ = 0;
  std::unique_ptr<std::byte, FreeDeleter> data_;
};

// Reads any floating view into f32 (used for small tensors: norms, biases,
// scales). Fails on integer dtypes.
Result<std::vector<float>> ToF32(const TensorView& view);

}  // namespace dsv32
