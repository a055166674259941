// The checked-in DeepSeek-V3 tokenizer, loaded once per test binary.
#pragma once

#include <gtest/gtest.h>

#include "text/tokenizer.h"

namespace dsv32 {

inline const Tokenizer& DeepSeekV3Tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    auto t = Tokenizer::Load(DSV32_TOKENIZER_DIR);
    if (!t.ok()) ADD_FAILURE() << t.status().message();
    return t.ok() ? std::move(t).value() : nullptr;
  }();
  if (!tokenizer) std::abort();
  return *tokenizer;
}

}  // namespace dsv32
