#include "text/utf8.h"

#include <gtest/gtest.h>

namespace dsv32 {
namespace {

std::string Lossy(std::string_view bytes) {
  std::string out;
  EXPECT_EQ(AppendUtf8Lossy(bytes, false, &out), bytes.size());
  return out;
}

constexpr char kFffd[] = "\xEF\xBF\xBD";

TEST(Utf8Test, FindsTheFirstInvalidByte) {
  EXPECT_EQ(FirstInvalidUtf8(""), 0u);
  EXPECT_EQ(FirstInvalidUtf8("plain ascii"), 11u);
  EXPECT_EQ(FirstInvalidUtf8("é你😀"), 9u);
  EXPECT_EQ(FirstInvalidUtf8("ab\x80"), 2u);
  EXPECT_EQ(FirstInvalidUtf8("a\xC0\xAF"), 1u);          // overlong
  EXPECT_EQ(FirstInvalidUtf8("a\xED\xA0\x80"), 1u);      // surrogate
  EXPECT_EQ(FirstInvalidUtf8("a\xF4\x90\x80\x80"), 1u);  // past U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("a\xF0\x9F\x98"), 1u);      // cut short
  EXPECT_EQ(FirstInvalidUtf8(std::string("a\0b", 3)), 3u);
}

TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(Lossy("ok"), "ok");
  EXPECT_EQ(Lossy("\xF0\x9F\x98"), kFffd);  // one unfinished character, one mark
  EXPECT_EQ(Lossy("a\xF0\x9F\x98z"), std::string("a") + kFffd + "z");
  EXPECT_EQ(Lossy("\xE0\x80"), std::string(kFffd) + kFffd);  // E0 needs A0..BF next
  EXPECT_EQ(Lossy("\xED\xA0\x80"), std::string(kFffd) + kFffd + kFffd);
  EXPECT_EQ(Lossy("\xFF\xFE"), std::string(kFffd) + kFffd);
  EXPECT_EQ(Lossy("\xC3\xA9\x80"), std::string("é") + kFffd);
}

TEST(Utf8Test, HoldsAnUnfinishedTail) {
  std::string out;
  EXPECT_EQ(AppendUtf8Lossy("ab\xF0\x9F", true, &out), 2u);
  EXPECT_EQ(out, "ab");
  out.clear();
  // Not a possible start of a character: replaced, not held.
  EXPECT_EQ(AppendUtf8Lossy("ab\x80", true, &out), 3u);
  EXPECT_EQ(out, std::string("ab") + kFffd);
  out.clear();
  EXPECT_EQ(AppendUtf8Lossy("\xF0\x9F\x98\x80", true, &out), 4u);
  EXPECT_EQ(out, "😀");
}

}  // namespace
}  // namespace dsv32
