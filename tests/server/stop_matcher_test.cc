#include "stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dsv32_server {
namespace {

// Feeds the pieces one by one; returns what came out and whether it stopped.
std::pair<std::string, bool> Feed(const std::vector<std::string>& stops,
                                  const std::vector<std::string>& pieces) {
  StopMatcher matcher(stops);
  std::string out;
  for (const std::string& piece : pieces)
    if (matcher.Push(piece, &out)) return {out, true};
  matcher.Flush(&out);
  return {out, false};
}

TEST(StopMatcher, NoStopsPassesEverythingAtOnce) {
  StopMatcher matcher;
  std::string out;
  EXPECT_FALSE(matcher.Push("abc", &out));
  EXPECT_EQ(out, "abc");
}

TEST(StopMatcher, CutsBeforeTheStopAndDropsTheRest) {
  EXPECT_EQ(Feed({"END"}, {"hello EN", "D and more"}), std::make_pair(std::string("hello "), true));
  EXPECT_EQ(Feed({"END"}, {"E", "N", "D"}), std::make_pair(std::string(""), true));
}

TEST(StopMatcher, HoldsBackOnlyAPossibleStart) {
  StopMatcher matcher({"END"});
  std::string out;
  EXPECT_FALSE(matcher.Push("abcE", &out));
  EXPECT_EQ(out, "abc");
  EXPECT_FALSE(matcher.Push("Nx", &out));  // "EN" then "x": not a stop after all
  EXPECT_EQ(out, "abcENx");
}

TEST(StopMatcher, ReleasesAHeldPrefixAtTheEnd) {
  EXPECT_EQ(Feed({"END"}, {"text E"}), std::make_pair(std::string("text E"), false));
}

TEST(StopMatcher, TheEarliestOfSeveralStopsWins) {
  EXPECT_EQ(Feed({"world", "lo"}, {"hello world"}), std::make_pair(std::string("hel"), true));
  EXPECT_EQ(Feed({"xyz", "b"}, {"a", "b", "c"}), std::make_pair(std::string("a"), true));
}

TEST(StopMatcher, MultibyteStops) {
  EXPECT_EQ(Feed({"深度"}, {"求索深", "度学习"}), std::make_pair(std::string("求索"), true));
}

}  // namespace
}  // namespace dsv32_server
