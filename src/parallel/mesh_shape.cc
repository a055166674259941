#include "parallel/mesh_shape.h"

#include <charconv>
#include <set>

namespace dsv32 {

MeshCoord MeshShape::CoordOf(int rank) const {
  MeshCoord c;
  c.tp = rank % tp;
  c.ep = (rank / tp) % ep;
  c.dp = rank / (tp * ep);
  return c;
}

std::string MeshShape::ToString() const {
  return "tp=" + std::to_string(tp) + ",ep=" + std::to_string(ep) + ",dp=" + std::to_string(dp);
}

Result<MeshShape> ParseMeshShape(const std::string& text) {
  auto fail = [&](const std::string& why) -> Status {
    return InvalidArgument("mesh '" + text + "': " + why +
                           " (expected e.g. 'tp=2,ep=4,dp=1'; keys tp, ep, dp)");
  };
  if (text.empty()) return fail("is empty");
  MeshShape shape;
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return fail("item '" + item + "' has no '='");
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    int* slot = key == "tp"   ? &shape.tp
                : key == "ep" ? &shape.ep
                : key == "dp" ? &shape.dp
                              : nullptr;
    if (!slot) return fail("unknown key '" + key + "'");
    if (!seen.insert(key).second) return fail("key '" + key + "' given twice");
    int v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v <= 0)
      return fail("value of '" + key + "' must be a positive integer, got '" + value + "'");
    if (v > kMaxMeshDevices) return fail("value of '" + key + "' is too large");
    *slot = v;
    pos = comma + 1;
  }
  if (static_cast<int64_t>(shape.tp) * shape.ep * shape.dp > kMaxMeshDevices)
    return fail("more than " + std::to_string(kMaxMeshDevices) + " devices");
  return shape;
}

}  // namespace dsv32
