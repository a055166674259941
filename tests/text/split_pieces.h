// The pieces a pre-tokenizer cuts a whole text into, as strings.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "text/pre_tokenizer.h"

namespace dsv32 {

inline std::vector<std::string> SplitPieces(const PreTokenizer& p, std::string_view text) {
  std::vector<TextSpan> spans;
  PreTokenizerScratch scratch;
  EXPECT_TRUE(p.Run(text, {0, static_cast<uint32_t>(text.size())}, &spans, &scratch).ok());
  std::vector<std::string> out;
  for (const TextSpan& s : spans) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

}  // namespace dsv32
