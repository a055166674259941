// What one simulated device holds, by kind, against its memory budget: the
// figures the planner predicts and the mesh forward pass will report.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace dsv32 {

enum class MemoryKind { kWeights, kKvCache, kActivations };
inline constexpr int kNumMemoryKinds = 3;
const char* MemoryKindName(MemoryKind kind);

class DeviceMemory {
 public:
  // budget_bytes <= 0 means unlimited.
  explicit DeviceMemory(int64_t budget_bytes = 0) : budget_(budget_bytes) {}

  // Fails with kOutOfMemory, changing nothing, when the budget would be exceeded.
  Status Reserve(MemoryKind kind, int64_t bytes);
  // Fails when more is released than was reserved for that kind.
  Status Release(MemoryKind kind, int64_t bytes);

  int64_t budget() const { return budget_; }
  int64_t used(MemoryKind kind) const { return used_[static_cast<size_t>(kind)]; }
  int64_t used() const;
  int64_t peak() const { return peak_; }

 private:
  int64_t budget_;
  std::array<int64_t, kNumMemoryKinds> used_{};
  int64_t peak_ = 0;
};

}  // namespace dsv32
