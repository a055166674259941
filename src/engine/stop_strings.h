// Stop strings over streamed text. Generated text reaches the caller only
// once it is certain not to be the start of a stop string, so a stop string
// split across tokens is neither shown in part nor missed; when one appears,
// the text before it is released and the rest is dropped (the stop string
// itself is not part of the output, as in OpenAI's API).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsv32 {

class StopStrings {
 public:
  StopStrings() = default;
  explicit StopStrings(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds `piece` and appends to `out` what is now certain. True once a stop
  // string has appeared: `out` then ends just before it.
  bool Push(std::string_view piece, std::string* out);
  // Ends the stream without a stop: appends what is still held back.
  void Flush(std::string* out);
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace dsv32
