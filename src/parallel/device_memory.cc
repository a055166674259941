#include "parallel/device_memory.h"

#include <algorithm>

namespace dsv32 {

const char* MemoryKindName(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kWeights:
      return "weights";
    case MemoryKind::kKvCache:
      return "kv_cache";
    case MemoryKind::kActivations:
      return "activations";
  }
  return "unknown";
}

int64_t DeviceMemory::used() const {
  int64_t t = 0;
  for (int64_t u : used_) t += u;
  return t;
}

Status DeviceMemory::Reserve(MemoryKind kind, int64_t bytes) {
  if (bytes < 0) return InvalidArgument("cannot reserve a negative number of bytes");
  if (budget_ > 0 && used() + bytes > budget_)
    return OutOfMemory(std::string("reserving ") + std::to_string(bytes) + " bytes of " +
                       MemoryKindName(kind) + " exceeds the device budget: " +
                       std::to_string(used()) + " of " + std::to_string(budget_) + " bytes in use");
  used_[static_cast<size_t>(kind)] += bytes;
  peak_ = std::max(peak_, used());
  return Status::Ok();
}

Status DeviceMemory::Release(MemoryKind kind, int64_t bytes) {
  int64_t& u = used_[static_cast<size_t>(kind)];
  if (bytes < 0 || bytes > u)
    return InvalidArgument(std::string("releasing ") + std::to_string(bytes) + " bytes of " +
                           MemoryKindName(kind) + " but only " + std::to_string(u) +
                           " are reserved");
  u -= bytes;
  return Status::Ok();
}

}  // namespace dsv32
