// Accelerators the planner knows by name, with the three figures it needs.
// Memory is in decimal GB as vendors quote it; link bandwidth is one GPU's
// unidirectional bandwidth into the scale-up fabric (NVLink, Infinity Fabric).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace dsv32 {

struct DeviceSpec {
  std::string name;
  double memory_gb = 0;  // 1 GB = 1e9 bytes
  double hbm_gbps = 0;   // GB/s
  double link_gbps = 0;  // GB/s, one direction

  int64_t memory_bytes() const { return static_cast<int64_t>(memory_gb * 1e9); }
};

const std::vector<DeviceSpec>& DevicePresets();
// Case-insensitive: "h100", "h200", "b200", "mi300x", "mi325x".
Result<DeviceSpec> FindDevicePreset(const std::string& name);

}  // namespace dsv32
