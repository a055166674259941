#include "parallel/device_spec.h"

#include <cctype>

namespace dsv32 {

const std::vector<DeviceSpec>& DevicePresets() {
  // Vendor datasheet figures: HBM capacity and bandwidth; NVLink 4 (H100,
  // H200) 450 GB/s and NVLink 5 (B200) 900 GB/s per direction; MI300X and
  // MI325X seven 64 GB/s Infinity Fabric links.
  static const std::vector<DeviceSpec> presets = {
      {"h100", 80, 3350, 450},    {"h200", 141, 4800, 450},   {"b200", 180, 8000, 900},
      {"mi300x", 192, 5300, 448}, {"mi325x", 256, 6000, 448},
  };
  return presets;
}

Result<DeviceSpec> FindDevicePreset(const std::string& name) {
  std::string lower;
  for (char ch : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string known;
  for (const auto& d : DevicePresets()) {
    if (d.name == lower) return d;
    known += (known.empty() ? "" : ", ") + d.name;
  }
  return InvalidArgument("unknown device '" + name + "' (presets: " + known +
                         "; or give --device-memory-gb and --hbm-gbps)");
}

}  // namespace dsv32
