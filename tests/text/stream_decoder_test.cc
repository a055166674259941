#include "text/stream_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "test_tokenizer.h"
#include "text/byte_level.h"
#include "text/utf8.h"

namespace dsv32 {
namespace {

using Ids = std::vector<int32_t>;

TEST(StreamDecoderTest, HoldsCharactersSplitAcrossTokens) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  const std::string text = "ok 😀🎉 你好世界 🧑‍🚀 𝔸𝔹 done";
  auto ids = tok.Encode(text);
  ASSERT_TRUE(ids.ok());
  StreamDecoder stream(tok);
  std::string all;
  bool held = false;
  for (int32_t id : *ids) {
    std::string piece;
    ASSERT_TRUE(stream.Push(id, &piece).ok());
    EXPECT_EQ(FirstInvalidUtf8(piece), piece.size()) << "emitted a partial character";
    held = held || stream.pending_bytes() > 0;
    all += piece;
  }
  // The point of the test: some token really did end inside a character.
  EXPECT_TRUE(held);
  stream.Finish(&all);
  EXPECT_EQ(all, text);
}

TEST(StreamDecoderTest, EmojiFromSingleByteTokens) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  // Feed 😀 (F0 9F 98 80) one byte token at a time.
  Ids ids;
  for (uint8_t b : {0xF0, 0x9F, 0x98, 0x80}) {
    auto id = tok.TokenId(ByteLevelToken(b));
    ASSERT_TRUE(id.has_value()) << int(b);
    ids.push_back(*id);
  }
  ASSERT_EQ(tok.Decode(ids).value(), "😀");
  StreamDecoder stream(tok);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(stream.Push(ids[i], &out).ok());
    EXPECT_EQ(out, i + 1 < ids.size() ? "" : "😀");
  }
  // Cut short: the unfinished character comes out as one U+FFFD at the end.
  StreamDecoder cut(tok);
  std::string partial;
  ASSERT_TRUE(cut.Push(ids[0], &partial).ok());
  ASSERT_TRUE(cut.Push(ids[1], &partial).ok());
  EXPECT_EQ(partial, "");
  cut.Finish(&partial);
  EXPECT_EQ(partial, "\xEF\xBF\xBD");
}

TEST(StreamDecoderTest, RejectsUnknownIdsAndSkipsSpecialsWhenAsked) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  StreamDecoder stream(tok, {.skip_special_tokens = true});
  std::string out;
  EXPECT_EQ(stream.Push(200000, &out).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(stream.Push(0, &out).ok());
  ASSERT_TRUE(stream.Push(19923, &out).ok());
  ASSERT_TRUE(stream.Push(1, &out).ok());
  EXPECT_EQ(out, "Hello");
}

// Whatever the ids, the stream's pieces joined equal Decode of them all.
TEST(StreamDecoderTest, RandomIdsMatchWholeDecode) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    Ids ids(rng() % 20);
    // Mostly the low (single-byte) ids, where broken sequences are likely.
    for (int32_t& id : ids) id = rng() % 4 ? static_cast<int32_t>(rng() % 300) : rng() % 128815;
    StreamDecoder stream(tok);
    std::string joined;
    for (int32_t id : ids) ASSERT_TRUE(stream.Push(id, &joined).ok());
    stream.Finish(&joined);
    auto whole = tok.Decode(ids);
    ASSERT_TRUE(whole.ok());
    ASSERT_EQ(joined, *whole);
  }
}

}  // namespace
}  // namespace dsv32
