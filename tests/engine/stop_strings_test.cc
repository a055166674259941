// Stop strings over streamed text: nothing of a stop string is released,
// wherever the pieces split it.
#include "engine/stop_strings.h"

#include <gtest/gtest.h>

namespace dsv32 {
namespace {

// Feeds `text` in pieces of `size` bytes; returns the released text and
// whether a stop string was seen.
std::pair<std::string, bool> Feed(const std::vector<std::string>& stops, const std::string& text,
                                  size_t size) {
  StopStrings s(stops);
  std::string out;
  for (size_t i = 0; i < text.size(); i += size)
    if (s.Push(std::string_view(text).substr(i, size), &out)) return {out, true};
  s.Flush(&out);
  return {out, false};
}

TEST(StopStringsTest, StopsBeforeTheFirstStopStringAtAnySplit) {
  for (size_t size = 1; size <= 12; ++size) {
    EXPECT_EQ(Feed({"END"}, "abc END def", size), std::make_pair(std::string("abc "), true))
        << size;
    EXPECT_EQ(Feed({"xyz", "c E"}, "abc END def", size), std::make_pair(std::string("ab"), true));
    EXPECT_EQ(Feed({"aab"}, "aaab", size), std::make_pair(std::string("a"), true));
  }
}

TEST(StopStringsTest, ReleasesEverythingWithoutAStop) {
  for (size_t size = 1; size <= 6; ++size) {
    EXPECT_EQ(Feed({"ENDX"}, "abc END", size), std::make_pair(std::string("abc END"), false));
    EXPECT_EQ(Feed({}, "plain", size), std::make_pair(std::string("plain"), false));
  }
}

TEST(StopStringsTest, HoldsBackOnlyAPossibleStart) {
  StopStrings s({"</stop>"});
  std::string out;
  EXPECT_FALSE(s.Push("hello </st", &out));
  EXPECT_EQ(out, "hello ");
  EXPECT_FALSE(s.Push("ring", &out));
  EXPECT_EQ(out, "hello </string");
}

}  // namespace
}  // namespace dsv32
