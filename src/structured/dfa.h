// A deterministic automaton over bytes, compiled from a Regex: Thompson
// construction over UTF-8 byte ranges, then subset construction over byte
// classes (bytes no edge tells apart share a column). States that cannot
// reach acceptance are dropped, so every transition that exists can still
// end in a match: a walk that never meets kDead never dead-ends.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "structured/regex.h"

namespace dsv32::structured {

struct DfaLimits {
  int64_t max_nfa_states = 4'000'000;
  int32_t max_dfa_states = 200'000;
};

class Dfa {
 public:
  static constexpr int32_t kDead = -1;

  // InvalidArgument when `regex` matches no string at all; Unsupported when
  // the automaton would exceed `limits`.
  static Result<Dfa> Compile(const Regex& regex, const DfaLimits& limits = {});

  int32_t start() const { return 0; }
  int32_t num_states() const { return static_cast<int32_t>(accepting_.size()); }
  int32_t num_classes() const { return classes_; }
  int32_t Next(int32_t state, uint8_t byte) const {
    return next_[static_cast<size_t>(state) * static_cast<size_t>(classes_) + class_of_[byte]];
  }
  // Follows every byte of `bytes`; kDead as soon as one has no transition.
  int32_t Walk(int32_t state, std::string_view bytes) const;
  bool accepting(int32_t state) const { return accepting_[static_cast<size_t>(state)] != 0; }
  // Accepting with no way on: only the end of the text can follow.
  bool final(int32_t state) const { return final_[static_cast<size_t>(state)] != 0; }
  // Whole-text match.
  bool Matches(std::string_view text) const;

  // The table as the token walk reads it: row `state`, column class_of(byte).
  const int32_t* row(int32_t state) const {
    return &next_[static_cast<size_t>(state) * static_cast<size_t>(classes_)];
  }
  const std::array<uint8_t, 256>& class_of() const { return class_of_; }

 private:
  int32_t classes_ = 0;
  std::array<uint8_t, 256> class_of_{};
  std::vector<int32_t> next_;
  std::vector<uint8_t> accepting_;
  std::vector<uint8_t> final_;
};

}  // namespace dsv32::structured
