#include "text/pre_tokenizer.h"

#include <gtest/gtest.h>

#include "split_pieces.h"

namespace dsv32 {
namespace {

using Strings = std::vector<std::string>;

TEST(PreTokenizerTest, SplitsKeepMatchesAndGapsInOrder) {
  auto p = PreTokenizer::Build({{"\\p{N}{1,3}"}});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(SplitPieces(*p, "ab1234cd5"), (Strings{"ab", "123", "4", "cd", "5"}));
  EXPECT_EQ(SplitPieces(*p, "abc"), (Strings{"abc"}));
}

TEST(PreTokenizerTest, LaterSplitsWorkInsideEarlierPieces) {
  // The lookahead must not see past the piece the first split made.
  auto p = PreTokenizer::Build({{"x"}, {"\\s+(?!\\S)|\\s+"}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(SplitPieces(*p, "a  x  b"), (Strings{"a", "  ", "x", " ", " ", "b"}));
}

TEST(PreTokenizerTest, WhiteSpaceIsTheUnicodeProperty) {
  EXPECT_EQ(PreTokenizer::TranslatePattern("a"), "a");
  EXPECT_EQ(PreTokenizer::TranslatePattern("[\\s]").find("\\s"), std::string::npos);
  auto p = PreTokenizer::Build({{"\\s+"}});
  ASSERT_TRUE(p.ok());
  // U+0085 (NEXT LINE) is White_Space, as in the reference's regex engine.
  EXPECT_EQ(SplitPieces(*p, "a\u0085b"), (Strings{"a", "\u0085", "b"}));
  EXPECT_EQ(SplitPieces(*p, "a\u3000b"), (Strings{"a", "\u3000", "b"}));
  auto q = PreTokenizer::Build({{"\\S+"}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(SplitPieces(*q, "ab\u0085cd"), (Strings{"ab", "\u0085", "cd"}));
}

TEST(PreTokenizerTest, LiteralPatternsMatchTheirText) {
  auto p = PreTokenizer::Build({{"a.b", true}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(SplitPieces(*p, "xa.bya_b"), (Strings{"x", "a.b", "ya_b"}));
}

TEST(PreTokenizerTest, ABadPatternIsAFormatError) {
  auto p = PreTokenizer::Build({{"(unclosed"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kFormatError);
  EXPECT_NE(p.status().message().find("(unclosed"), std::string::npos);
}

}  // namespace
}  // namespace dsv32

namespace dsv32 {
namespace {

// A pattern that keeps a backtracking point per character overflows PCRE2's
// JIT stack on long input; the interpreter finishes the split.
TEST(PreTokenizerTest, DeepBacktrackingOnLongInputDoesNotCrash) {
  auto p = PreTokenizer::Build({{"(?:a|ab)+$"}});
  ASSERT_TRUE(p.ok());
  const std::string text(100000, 'a');
  std::vector<TextSpan> spans;
  PreTokenizerScratch scratch;
  const Status s = p->Run(text, {0, static_cast<uint32_t>(text.size())}, &spans, &scratch);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].end, text.size());
}

}  // namespace
}  // namespace dsv32
