// Cuts generated text at the first stop string. Text that could still be
// the start of a stop string is held back until the next piece decides it.
#pragma once

#include <string>
#include <vector>

namespace dsv32_server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops = {}) : stops_(std::move(stops)) {}

  // Adds generated text; appends to *out what is certain not to be part of
  // a stop string. Returns true when a stop string was found: *out then
  // ends just before it and everything after is dropped.
  bool Push(const std::string& text, std::string* out);
  // The stream ended without a stop string: releases what was held back.
  void Flush(std::string* out);

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace dsv32_server
