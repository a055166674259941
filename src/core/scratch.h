// Working memory a kernel keeps on its thread from one call to the next. A
// prefill matmul needs megabytes of packed activations and partial sums for
// a few milliseconds; allocated afresh, every call pays for the kernel to
// fault in and zero those pages again (about 5 ms of a 110 ms matmul at 512
// tokens). Kept, the pages stay mapped. What a call needed beyond
// kScratchKeepBytes is given back when it ends, so one long prompt does not
// hold its peak for the rest of the process.
#pragma once

#include <cstddef>

#include "hwy/aligned_allocator.h"

namespace dsv32 {

inline constexpr size_t kScratchKeepBytes = size_t{64} << 20;

class ScratchFloats {
 public:
  // Room for n floats, aligned for any vector, contents undefined; valid
  // until the next Get or Trim on this object.
  float* Get(size_t n) {
    if (n > capacity_) {
      data_.reset();  // the old block goes before the new one comes
      data_ = hwy::AllocateAligned<float>(n);
      capacity_ = data_ ? n : 0;
    }
    return data_.get();
  }
  // Gives the memory back if it is more than kScratchKeepBytes.
  void Trim() {
    if (capacity_ * sizeof(float) > kScratchKeepBytes) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  hwy::AlignedFreeUniquePtr<float[]> data_;
  size_t capacity_ = 0;
};

// Calls Trim when a scope ends.
class ScratchTrim {
 public:
  explicit ScratchTrim(ScratchFloats& s) : s_(s) {}
  ~ScratchTrim() { s_.Trim(); }
  ScratchTrim(const ScratchTrim&) = delete;
  ScratchTrim& operator=(const ScratchTrim&) = delete;

 private:
  ScratchFloats& s_;
};

}  // namespace dsv32
