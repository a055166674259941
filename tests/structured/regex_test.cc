// The regex subset and its DFA, against hand-written strings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "structured/dfa.h"
#include "structured/regex.h"

namespace dsv32::structured {
namespace {

Dfa Compile(const std::string& pattern) {
  auto re = ParseRegex(pattern);
  EXPECT_TRUE(re.ok()) << pattern << ": " << re.status().message();
  auto dfa = Dfa::Compile(re.value());
  EXPECT_TRUE(dfa.ok()) << pattern << ": " << dfa.status().message();
  return std::move(dfa).value();
}

void ExpectLanguage(const std::string& pattern, const std::vector<std::string>& accept,
                    const std::vector<std::string>& reject) {
  const Dfa dfa = Compile(pattern);
  for (const std::string& s : accept) EXPECT_TRUE(dfa.Matches(s)) << pattern << " vs '" << s << "'";
  for (const std::string& s : reject)
    EXPECT_FALSE(dfa.Matches(s)) << pattern << " vs '" << s << "'";
}

TEST(RegexTest, LiteralsAndAlternation) {
  ExpectLanguage("abc", {"abc"}, {"", "ab", "abcd", "xabc"});
  ExpectLanguage("cat|dog|", {"cat", "dog", ""}, {"ca", "catdog"});
  ExpectLanguage("a(b|c)d", {"abd", "acd"}, {"ad", "abcd"});
  ExpectLanguage("(?:ab)+(?<tail>c)?", {"ab", "ababc"}, {"", "abcc", "c"});
}

TEST(RegexTest, Quantifiers) {
  ExpectLanguage("a?b*c+", {"c", "ac", "abbbc", "bccc"}, {"", "aac", "ab"});
  ExpectLanguage("x{3}", {"xxx"}, {"xx", "xxxx"});
  ExpectLanguage("x{2,}", {"xx", "xxxxxxx"}, {"x"});
  ExpectLanguage("x{1,3}y", {"xy", "xxxy"}, {"y", "xxxxy"});
  ExpectLanguage("x{0}y", {"y"}, {"xy"});
  ExpectLanguage("a*?b+?", {"aab", "b"}, {"a"});
  ExpectLanguage("a{,2}", {"a{,2}"}, {"aa"});  // not a quantifier: literal braces
}

TEST(RegexTest, ClassesAndEscapes) {
  ExpectLanguage("[a-c]+", {"abcabc"}, {"d", ""});
  ExpectLanguage("[^a-c]", {"d", "é", "\n", "中"}, {"a", "", "dd"});
  ExpectLanguage("[-a]", {"-", "a"}, {"b"});
  ExpectLanguage("[]a]", {"]", "a"}, {"b"});
  ExpectLanguage("\\d{2}\\s\\w+", {"12 ab_9", "00\tX"}, {"1 a", "12  a"});
  ExpectLanguage("\\D\\W\\S", {"a-b"}, {"1-b", "aab"});
  ExpectLanguage("\\.\\*\\\\\\[\\(", {".*\\[("}, {"a*\\[("});
  ExpectLanguage("\\x41\\u00e9\\n\\t", {"Aé\n\t"}, {"Ae\n\t"});
  ExpectLanguage("[\\d.]+", {"3.14"}, {"3,14"});
}

TEST(RegexTest, DotIsOneCharacterOfValidUtf8) {
  ExpectLanguage(".", {"a", "é", "中", "😀"}, {"\n", "", "ab", "\xC3", "\xFF", "\xED\xA0\x80"});
  ExpectLanguage("..", {"é中"}, {"é"});
  ExpectLanguage("[é-ë]", {"é", "ê", "ë"}, {"e", "ì"});
  ExpectLanguage("[\\u0800-\\uffff]", {"\xE0\xA0\x80", "\xEF\xBF\xBF", "中"},
                 {"\xDF\xBF", "\xF0\x90\x80\x80", "\xED\xA0\x80"});
}

TEST(RegexTest, AnchorsAtTheEndsChangeNothing) {
  ExpectLanguage("^ab$", {"ab"}, {"abab"});
  ExpectLanguage("^a|b$", {"a", "b"}, {"ab"});
}

TEST(RegexTest, ErrorsNameTheProblem) {
  struct Case {
    const char* pattern;
    StatusCode code;
    const char* says;
  };
  const Case cases[] = {
      {"(ab", StatusCode::kInvalidArgument, "'('"},
      {"ab)", StatusCode::kInvalidArgument, "')'"},
      {"[ab", StatusCode::kInvalidArgument, "'['"},
      {"*a", StatusCode::kInvalidArgument, "nothing to repeat"},
      {"a{3,1}", StatusCode::kInvalidArgument, "n < m"},
      {"[z-a]", StatusCode::kInvalidArgument, "out of order"},
      {"a\\", StatusCode::kInvalidArgument, "trailing backslash"},
      {"(a)\\1", StatusCode::kUnsupported, "backreference"},
      {"a(?=b)", StatusCode::kUnsupported, "lookaround"},
      {"(?i)a", StatusCode::kUnsupported, "group syntax"},
      {"\\bword", StatusCode::kUnsupported, "word boundary"},
      {"a^b", StatusCode::kUnsupported, "'^'"},
      {"a$b", StatusCode::kUnsupported, "'$'"},
      {"a{99999}", StatusCode::kUnsupported, "repetition count"},
      {"a++", StatusCode::kUnsupported, "possessive"},
      {"\\p{L}", StatusCode::kUnsupported, "\\p"},
      {"a?*{2}?**", StatusCode::kUnsupported, "quantifiers on one atom"},
  };
  for (const Case& c : cases) {
    auto r = ParseRegex(c.pattern);
    ASSERT_FALSE(r.ok()) << c.pattern;
    EXPECT_EQ(r.status().code(), c.code) << c.pattern << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.pattern << ": " << r.status().message();
  }
  EXPECT_FALSE(ParseRegex("\xC3").ok());
  // Deep nesting is refused rather than recursed into.
  const std::string deep = std::string(100000, '(') + "a" + std::string(100000, ')');
  EXPECT_EQ(ParseRegex(deep).status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(ParseRegex(std::string(100, '(') + "a" + std::string(100, ')')).ok());
}

TEST(RegexTest, AnExpressionMatchingNothingIsAnError) {
  auto re = ParseRegex("a[^\\s\\S]b");
  ASSERT_TRUE(re.ok());
  auto dfa = Dfa::Compile(re.value());
  ASSERT_FALSE(dfa.ok());
  EXPECT_EQ(dfa.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dfa.status().message().find("matches no string"), std::string::npos);
}

TEST(RegexTest, DeadEndsArePruned) {
  // "ab" is a dead end of (ab)c|x: after "a" only a path to acceptance stays.
  const Dfa dfa = Compile("abc|x");
  EXPECT_EQ(dfa.Walk(dfa.start(), "ax"), Dfa::kDead);
  const int32_t s = dfa.Walk(dfa.start(), "ab");
  ASSERT_NE(s, Dfa::kDead);
  EXPECT_FALSE(dfa.accepting(s));
  const int32_t end = dfa.Next(s, 'c');
  EXPECT_TRUE(dfa.accepting(end));
  EXPECT_TRUE(dfa.final(end));
}

TEST(RegexTest, StateLimitIsAnError) {
  auto re = ParseRegex("(a|b)*a(a|b){8}");  // the DFA needs 2^9 states
  ASSERT_TRUE(re.ok());
  DfaLimits limits;
  limits.max_dfa_states = 100;
  auto dfa = Dfa::Compile(re.value(), limits);
  ASSERT_FALSE(dfa.ok());
  EXPECT_EQ(dfa.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(Dfa::Compile(re.value()).ok());
}

}  // namespace
}  // namespace dsv32::structured
