// Behaviour of the DeepSeek-V3 tokenizer beyond the goldens: options, errors
// and inputs the goldens do not reach (very long runs, random text).
#include <gtest/gtest.h>

#include <random>

#include "test_tokenizer.h"

namespace dsv32 {
namespace {

using Ids = std::vector<int32_t>;

std::string RoundTrip(const Tokenizer& tok, const std::string& text) {
  auto ids = tok.Encode(text);
  EXPECT_TRUE(ids.ok()) << ids.status().message();
  if (!ids.ok()) return {};
  auto back = tok.Decode(*ids);
  EXPECT_TRUE(back.ok()) << back.status().message();
  return back.ok() ? *back : std::string();
}

TEST(TokenizerTest, SpecialTokensInTextFollowTheOption) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  const std::string text = "<｜User｜>hi<｜end▁of▁sentence｜>";
  auto parsed = tok.Encode(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (Ids{128803, 6366, 1}));

  auto plain = tok.Encode(text, {.parse_special_tokens = false});
  ASSERT_TRUE(plain.ok());
  EXPECT_GT(plain->size(), 3u);
  for (int32_t id : *plain) EXPECT_LT(id, 128000) << "an added token leaked through";
  EXPECT_EQ(tok.Decode(*plain).value(), text);

  auto with_bos = tok.Encode(text, {.add_bos = true, .parse_special_tokens = false});
  ASSERT_TRUE(with_bos.ok());
  EXPECT_EQ((*with_bos)[0], 0);
  EXPECT_EQ(Ids(with_bos->begin() + 1, with_bos->end()), *plain);
}

TEST(TokenizerTest, DecodeChecksIdsAndCanSkipSpecialTokens) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  auto bad = tok.Decode(Ids{19923, 128815});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(bad.status().message().find("128815"), std::string::npos);
  EXPECT_FALSE(tok.Decode(Ids{-1}).ok());
  EXPECT_EQ(tok.Decode(Ids{0, 19923, 1}).value(),
            "<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>");
  EXPECT_EQ(tok.Decode(Ids{0, 19923, 128803, 1}, {.skip_special_tokens = true}).value(),
            "Hello<｜User｜>");
  EXPECT_EQ(tok.Decode(Ids{}).value(), "");
}

TEST(TokenizerTest, InvalidUtf8IsAnErrorAndLeavesOutputAlone) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  for (std::string bad : {"abc\xff", "\xC3", "\xED\xA0\x80", "ok \xF0\x9F\x98"}) {
    auto r = tok.Encode(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  Ids ids = {7};
  EXPECT_FALSE(tok.EncodeInto("x\xff", {.add_bos = true}, &ids).ok());
  EXPECT_EQ(ids, Ids{7});
  // A lone byte token decodes to U+FFFD, as in the reference.
  const auto byte_ff = tok.TokenId("ÿ");
  ASSERT_TRUE(byte_ff.has_value());
  EXPECT_EQ(tok.Decode(Ids{*byte_ff}).value(), "\xEF\xBF\xBD");
}

TEST(TokenizerTest, LongRunsEncodeAndRoundTrip) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  for (const std::string& text :
       {std::string(100000, 'a'), std::string(100000, ' '), std::string(50000, '\n'),
        std::string(30000, '7'), std::string(20000, '.') + "x",
        [] {
          std::string s;
          for (int i = 0; i < 20000; ++i) s += "你";
          return s;
        }(),
        [] {
          std::string s;
          for (int i = 0; i < 5000; ++i) s += " \t\u00a0\r\n";
          return s;
        }()}) {
    EXPECT_EQ(RoundTrip(tok, text), text) << text.substr(0, 10);
  }
}

// The merge loops agree on DeepSeek's merges too, on long words of real
// scripts (the fast loop for long words needs ordered merges, checked here).
TEST(TokenizerTest, MergeLoopsAgreeOnLongWords) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  ASSERT_TRUE(tok.bpe().merges_ordered());
  std::mt19937 rng(5);
  const std::vector<std::string> units = {"数", "字", "的", "a",  "b",        "e", "th",
                                          "in", "カ", "😀",  "ab", "\xd0\xb4", "é", " "};
  for (int trial = 0; trial < 60; ++trial) {
    std::string word;
    const size_t period = 1 + rng() % 6;
    std::vector<std::string> pattern;
    for (size_t i = 0; i < period; ++i) pattern.push_back(units[rng() % units.size()]);
    const size_t length = 50 + rng() % 3000;
    for (size_t i = 0; word.size() < length; ++i)
      word += rng() % 8 ? pattern[i % period] : units[rng() % units.size()];
    std::vector<int32_t> queue, rounds;
    tok.bpe().EncodeWordByQueue(word, &queue);
    tok.bpe().EncodeWordByRounds(word, &rounds);
    ASSERT_EQ(rounds, queue) << word.substr(0, 40);
  }
}

// Random text built from pieces that stress the regexes and byte-level BPE
// must always come back unchanged.
TEST(TokenizerTest, RandomTextRoundTrips) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  const std::vector<std::string> parts = {
      "a",   "Z",       " ",      "  ",         "\n",     "\r\n", "\t",
      "1",   "23",      "4567",   "'s",         "'",      ".",    "!?",
      "é",   "ñ",       "你好",   "カタカナ",   "한국어", "😀",    "👨‍👩‍👧",
      "🇯🇵",  "e\u0301", "\u0085", "\u00a0",     "\u3000", "٣",    "Ⅻ",
      "<",   "<｜",     "｜>",    "<｜User｜>", "\u200d", "𝔸",    "\x7f",
      "\x01"};
  std::mt19937 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int n = rng() % 40;
    for (int i = 0; i < n; ++i) text += parts[rng() % parts.size()];
    ASSERT_EQ(RoundTrip(tok, text), text);
    auto plain = tok.Encode(text, {.parse_special_tokens = false});
    ASSERT_TRUE(plain.ok());
    ASSERT_EQ(tok.Decode(*plain).value(), text);
  }
}

}  // namespace
}  // namespace dsv32
