// Unicode-wide goldens: every code point of planes 0, 1 and 14 (a sample of
// 2 and 3) in a small context, made by tools/goldens/tokenizer_unicode_blocks.py
// with Hugging Face `tokenizers`. They catch code points whose category or
// White_Space property PCRE2 sees differently from the reference's engine.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_tokenizer.h"

namespace dsv32 {
namespace {

constexpr char kBlocksPath[] = DSV32_TOKENIZER_DIR "/unicode_blocks.jsonl";

std::string Utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// The same text the generator builds for the block starting at `first`.
std::string BlockText(char32_t first) {
  std::string text;
  for (char32_t cp = first; cp < first + 32; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string c = Utf8(cp);
    text += "a" + c + c + " " + c + "1" + c + "!" + c + "\u6570" + c + "\n";
  }
  return text;
}

uint64_t Fnv64(const std::vector<int32_t>& ids) {
  std::string joined;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) joined += ' ';
    joined += std::to_string(ids[i]);
  }
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : joined) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

TEST(TokenizerUnicodeBlocksTest, MatchesTheReferenceOnEveryBlock) {
  if (!std::filesystem::exists(kBlocksPath))
    GTEST_SKIP() << kBlocksPath
                 << " is not made yet: run tools/goldens/tokenizer_unicode_blocks.py where "
                    "Hugging Face tokenizers is installed";
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  std::ifstream in(kBlocksPath);
  size_t blocks = 0, failures = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    const auto first = j.at("first").get<uint32_t>();
    const std::string text = BlockText(first);
    auto ids = tok.Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    char hash[17];
    std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(Fnv64(*ids)));
    if (ids->size() != j.at("n_ids").get<size_t>() || hash != j.at("fnv64").get<std::string>()) {
      ADD_FAILURE() << "block U+" << std::hex << first << " differs from the reference";
      if (++failures > 20) FAIL() << "stopping after 20 blocks";
    }
    ++blocks;
  }
  EXPECT_GT(blocks, 4000u);
}

}  // namespace
}  // namespace dsv32
