// The hand-written ASCII scans must split exactly as PCRE2 does with
// DeepSeek's own patterns, on random text that is mostly ASCII with other
// characters mixed in (where the scans hand over to PCRE2).
#include "text/ascii_splits.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "split_pieces.h"

namespace dsv32 {
namespace {

std::vector<std::string> DeepSeekPatterns() {
  std::ifstream in(DSV32_TOKENIZER_DIR "/tokenizer.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str());
  std::vector<std::string> patterns;
  for (const auto& p : j.at("pre_tokenizer").at("pretokenizers"))
    if (p.at("type") == "Split") patterns.push_back(p.at("pattern").at("Regex"));
  return patterns;
}

std::string RandomText(std::mt19937& rng) {
  static const std::vector<std::string> others = {
      "é", "数", "カ", "😀", "\u0301", "\u0085", "\u00a0", "\u3000", "٣", "¹", "—", "€", "ß"};
  std::string text;
  const int n = rng() % 40;
  for (int i = 0; i < n; ++i) {
    const unsigned r = rng() % 100;
    if (r < 30)
      text += static_cast<char>((rng() % 2 ? 'a' : 'A') + rng() % 26);
    else if (r < 40)
      text += static_cast<char>('0' + rng() % 10);
    else if (r < 55)
      text += ' ';
    else if (r < 62)
      text += "\t\n\r\v\f"[rng() % 5];
    else if (r < 82)
      text += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"[rng() % 32];
    else if (r < 88)
      text += static_cast<char>(rng() % 2 ? 0x7F : rng() % 32);
    else
      text += others[rng() % others.size()];
  }
  return text;
}

TEST(AsciiSplitsTest, DeepSeekPatternsHaveScans) {
  const std::vector<std::string> patterns = DeepSeekPatterns();
  ASSERT_EQ(patterns.size(), 3u);
  EXPECT_EQ(AsciiSplitFor(patterns[0]), AsciiSplit::kDigitGroups);
  EXPECT_EQ(AsciiSplitFor(patterns[1]), AsciiSplit::kNone);  // found from PCRE2's start bytes
  EXPECT_EQ(AsciiSplitFor(patterns[2]), AsciiSplit::kDeepSeekWords);
  EXPECT_EQ(AsciiSplitFor("\\p{N}+"), AsciiSplit::kNone);
}

TEST(AsciiSplitsTest, ScansSplitLikePcre2) {
  const std::vector<std::string> patterns = DeepSeekPatterns();
  std::vector<std::vector<PreTokenizer::Split>> setups;
  for (const std::string& p : patterns) setups.push_back({{p}});
  setups.push_back({{patterns[0]}, {patterns[1]}, {patterns[2]}});
  std::mt19937 rng(11);
  for (const auto& setup : setups) {
    auto fast = PreTokenizer::Build(setup);
    auto slow = PreTokenizer::Build(setup);
    ASSERT_TRUE(fast.ok() && slow.ok());
    slow->set_use_ascii_splits(false);
    for (int trial = 0; trial < 20000; ++trial) {
      const std::string text = RandomText(rng);
      ASSERT_EQ(SplitPieces(*fast, text), SplitPieces(*slow, text))
          << "text: " << testing::PrintToString(text);
    }
  }
}

}  // namespace
}  // namespace dsv32
