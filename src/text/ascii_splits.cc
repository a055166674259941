#include "text/ascii_splits.h"

#include <array>

namespace dsv32 {

namespace {

constexpr char kDigitGroups[] = "\\p{N}{1,3}";
// clang-format off
constexpr char kDeepSeekWords[] =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|"
    "[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|"
    "\\s*[\r\n]+|"
    "\\s+(?!\\S)|"
    "\\s+";
// clang-format on

// What the patterns' Unicode classes are on ASCII: \p{L} is A-Z a-z, \p{M}
// is empty, \p{N} is 0-9, \p{P} and \p{S} together are the 32 printable
// characters that are neither letters nor digits, and White_Space is
// \t \n \v \f \r and space.
enum : uint8_t { kLetter = 1, kDigit = 2, kPunct = 4, kSpace = 8, kNewline = 16 };

constexpr std::array<uint8_t, 128> MakeClasses() {
  std::array<uint8_t, 128> c{};
  for (int b = 'A'; b <= 'Z'; ++b) c[b] = kLetter;
  for (int b = 'a'; b <= 'z'; ++b) c[b] = kLetter;
  for (int b = '0'; b <= '9'; ++b) c[b] = kDigit;
  for (int b = '!'; b <= '~'; ++b)
    if (c[b] == 0) c[b] = kPunct;
  for (int b : {'\t', '\n', '\v', '\f', '\r', ' '}) c[b] = kSpace;
  c['\n'] |= kNewline;
  c['\r'] |= kNewline;
  return c;
}
constexpr std::array<uint8_t, 128> kClasses = MakeClasses();

class Scanner {
 public:
  Scanner(const char* s, uint32_t end, bool* non_ascii) : s_(s), end_(end), non_ascii_(non_ascii) {}

  bool Is(uint32_t i, uint8_t cls) const {
    if (i >= end_) return false;
    const auto b = static_cast<uint8_t>(s_[i]);
    if (b >= 0x80) {
      *non_ascii_ = true;
      return false;
    }
    return kClasses[b] & cls;
  }
  uint32_t Run(uint32_t i, uint8_t cls) const {
    while (Is(i, cls)) ++i;
    return i;
  }

  // The end of the match of the word pattern at `p`, or p when none starts
  // there. The alternatives are tried in the pattern's order.
  uint32_t MatchWord(uint32_t p) const {
    // [punct][A-Za-z]+
    if (Is(p, kPunct) && Is(p + 1, kLetter)) return Run(p + 1, kLetter);
    // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
    if (p < end_ && !Is(p, kNewline | kLetter | kPunct) && Is(p + 1, kLetter))
      return Run(p + 1, kLetter);
    if (Is(p, kLetter)) return Run(p, kLetter);
    // " ?[\p{P}\p{S}]+[\r\n]*"
    uint32_t q = p < end_ && s_[p] == ' ' ? p + 1 : p;
    if (!Is(q, kPunct)) q = p;
    if (Is(q, kPunct)) return Run(Run(q, kPunct), kNewline);
    // \s*[\r\n]+ : through the last line break of the whitespace run.
    const uint32_t run = Run(p, kSpace);
    for (uint32_t i = run; i > p; --i)
      if (Is(i - 1, kNewline)) return i;
    // \s+(?!\S) : the run, less its last character when text follows.
    if (run == end_ && run > p) return run;
    if (run > p + 1) return run - 1;
    // \s+
    return run;
  }

 private:
  const char* s_;
  uint32_t end_;
  bool* non_ascii_;
};

}  // namespace

AsciiSplit AsciiSplitFor(std::string_view pattern) {
  if (pattern == kDigitGroups) return AsciiSplit::kDigitGroups;
  if (pattern == kDeepSeekWords) return AsciiSplit::kDeepSeekWords;
  return AsciiSplit::kNone;
}

uint32_t AsciiMatchAt(AsciiSplit kind, const char* s, uint32_t p, uint32_t end, bool* non_ascii) {
  const Scanner scan(s, end, non_ascii);
  if (kind == AsciiSplit::kDeepSeekWords) return scan.MatchWord(p);
  uint32_t m = p;
  while (m < p + 3 && scan.Is(m, kDigit)) ++m;
  return m;
}

}  // namespace dsv32
