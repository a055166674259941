// The checked-in DeepSeek-V3 tokenizer files are the ones described in
// tests/data/tokenizer/deepseek-v3/README.md.
#include <gtest/gtest.h>

#include "test_tokenizer.h"

namespace dsv32 {
namespace {

TEST(TokenizerFilesTest, DeepSeekV3HasTheExpectedShape) {
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  EXPECT_EQ(tok.bpe_vocab_size(), 128000u);
  EXPECT_EQ(tok.merge_count(), 127741u);
  EXPECT_EQ(tok.added_tokens().size(), 818u);
  EXPECT_EQ(tok.id_limit(), 128815);

  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_TRUE(tok.add_bos_token());
  EXPECT_EQ(tok.TokenBytes(0).value(), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok.TokenBytes(1).value(), "<｜end▁of▁sentence｜>");
  EXPECT_TRUE(tok.IsSpecial(0));
  EXPECT_TRUE(tok.IsSpecial(1));

  // Chat markers are added tokens, but not "special" ones in V3's file.
  EXPECT_EQ(tok.TokenId("<｜User｜>"), 128803);
  EXPECT_EQ(tok.TokenId("<｜Assistant｜>"), 128804);
  EXPECT_FALSE(tok.IsSpecial(128803));
  EXPECT_EQ(tok.TokenId("<｜tool▁sep｜>"), 128814);

  // Byte-level vocab: "Ġ" is the space byte.
  EXPECT_EQ(tok.TokenBytes(*tok.TokenId("Ġ")).value(), " ");
  EXPECT_EQ(tok.TokenId("not a token"), std::nullopt);
}

}  // namespace
}  // namespace dsv32
