#include "engine/stop_strings.h"

#include <algorithm>

namespace dsv32 {

bool StopStrings::Push(std::string_view piece, std::string* out) {
  held_ += piece;
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    out->append(held_, 0, first);
    held_.clear();
    return true;
  }
  // Hold back the longest tail that some stop string starts with.
  size_t keep = 0;
  for (const std::string& s : stops_)
    for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k)
      if (std::string_view(held_).substr(held_.size() - k) == std::string_view(s).substr(0, k)) {
        keep = k;
        break;
      }
  out->append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return false;
}

void StopStrings::Flush(std::string* out) {
  out->append(held_);
  held_.clear();
}

}  // namespace dsv32
