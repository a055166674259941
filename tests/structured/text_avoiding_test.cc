// Text that avoids words, against a brute-force check over every short
// string of a small alphabet, and its DFA's size.
#include "structured/text_avoiding.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "structured/dfa.h"

namespace dsv32::structured {
namespace {

Dfa Compile(const Result<Regex>& re) {
  EXPECT_TRUE(re.ok()) << re.status().message();
  auto dfa = Dfa::Compile(re.value());
  EXPECT_TRUE(dfa.ok()) << dfa.status().message();
  return std::move(dfa).value();
}

// Every string of `alphabet` up to `max_len` characters.
std::vector<std::string> AllStrings(const std::vector<std::string>& alphabet, size_t max_len) {
  std::vector<std::string> out{""};
  for (size_t begin = 0, len = 0; len < max_len; ++len) {
    const size_t end = out.size();
    for (size_t i = begin; i < end; ++i)
      for (const std::string& a : alphabet) out.push_back(out[i] + a);
    begin = end;
  }
  return out;
}

bool ContainsAny(const std::string& s, const std::vector<std::string_view>& words) {
  for (std::string_view w : words)
    if (s.find(w) != std::string::npos) return true;
  return false;
}

// What the output parser sees when it reads `s` as it streams in: no word
// complete before the last character, and at it `end` is the longest word
// that has just completed.
bool EndsAtFirstWord(const std::string& s, std::string_view end,
                     const std::vector<std::string_view>& words) {
  if (s.size() < end.size() || s.compare(s.size() - end.size(), end.size(), end) != 0) return false;
  size_t last = s.size() - 1;  // the start of the last character
  while (last > 0 && (static_cast<unsigned char>(s[last]) & 0xC0) == 0x80) --last;
  if (ContainsAny(s.substr(0, last), words)) return false;
  for (std::string_view w : words)
    if (w.size() > end.size() && s.size() >= w.size() &&
        s.compare(s.size() - w.size(), w.size(), w) == 0)
      return false;
  return true;
}

TEST(TextAvoidingTest, MatchesExactlyTheStringsWithoutTheWords) {
  const std::vector<std::vector<std::string_view>> cases = {
      {"ab"}, {"aa"}, {"aba", "bb"}, {"abc", "bc", "c"}, {"a｜b"}};
  for (const auto& words : cases) {
    const Dfa dfa = Compile(TextAvoiding(words));
    for (const std::string& s : AllStrings({"a", "b", "c", "｜"}, 6))
      EXPECT_EQ(dfa.Matches(s), !ContainsAny(s, words)) << "'" << s << "'";
  }
}

TEST(TextAvoidingTest, UntilStopsAtTheFirstWord) {
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> cases = {
      {"ab", {}}, {"aa", {}}, {"ab", {"ba"}}, {"abc", {"b｜"}}, {"b", {"ab"}}, {"a｜", {"｜｜"}}};
  for (const auto& [end, words] : cases) {
    std::vector<std::string_view> all = words;
    all.push_back(end);
    const Dfa dfa = Compile(TextUntil(end, words));
    for (const std::string& s : AllStrings({"a", "b", "c", "｜"}, 6)) {
      EXPECT_EQ(dfa.Matches(s), EndsAtFirstWord(s, end, all)) << end << ": '" << s << "'";
    }
  }
}

TEST(TextAvoidingTest, HasAboutAsManyStatesAsTheWordsHaveCharacters) {
  const Dfa dfa = Compile(TextUntil("</｜DSML｜parameter>"));
  // 20 automaton states; the three-byte bars add a few between bytes.
  EXPECT_LE(dfa.num_states(), 40);
  EXPECT_TRUE(dfa.Matches("any text, even </other> tags</｜DSML｜parameter>"));
  EXPECT_FALSE(dfa.Matches("x</｜DSML｜parameter>y</｜DSML｜parameter>"));
}

TEST(TextAvoidingTest, RefusesEmptyAndInvalidWords) {
  EXPECT_EQ(TextAvoiding({""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TextAvoiding({"\xff"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(RegexTest, WithoutCodepointsCutsSetsAndAutomata) {
  const Dfa any = Compile(
      Result<Regex>(WithoutCodepoints(Repeat(Set({{'a', 'z'}}), 0, -1), {{'c', 'd'}, {'x', 'x'}})));
  EXPECT_TRUE(any.Matches("abefz"));
  EXPECT_FALSE(any.Matches("abc"));
  EXPECT_FALSE(any.Matches("x"));
  auto avoid = TextAvoiding({"ab"});
  ASSERT_TRUE(avoid.ok());
  const Dfa cut = Compile(Result<Regex>(WithoutCodepoints(avoid.value(), {{'z', 'z'}})));
  EXPECT_TRUE(cut.Matches("bba"));
  EXPECT_FALSE(cut.Matches("z"));
  EXPECT_FALSE(cut.Matches("ab"));
}

}  // namespace
}  // namespace dsv32::structured
