// Hand-written equivalents of DeepSeek's pre-tokenizer regexes for the ASCII
// parts of text (most of prompts and code). On ASCII the Unicode classes the
// patterns use reduce to a few byte sets, and the alternation reduces to a
// handful of run scans, which is several times cheaper than a regex call per
// word. Each scan decides a match exactly as PCRE2 does for that pattern
// whenever every byte it looks at is ASCII, and says so when it is not;
// tests compare the two on random text.
#pragma once

#include <cstdint>
#include <string_view>

namespace dsv32 {

enum class AsciiSplit {
  kNone,           // no hand-written form: always PCRE2
  kNeverMatches,   // cannot match ASCII: an all-ASCII piece stays whole
  kDigitGroups,    // \p{N}{1,3}
  kDeepSeekWords,  // DeepSeek's GPT-style word pattern
};

// The hand-written form of a pattern in the reference's syntax, by its text.
AsciiSplit AsciiSplitFor(std::string_view pattern);

// The end of the match of `kind`'s pattern (kDigitGroups or kDeepSeekWords)
// that starts at `p` in s[0, end), or p when none starts there. Sets
// `*non_ascii` when the answer depends on a byte of 0x80 or more, whose class
// these scans do not know: the caller must then ask the regex instead.
uint32_t AsciiMatchAt(AsciiSplit kind, const char* s, uint32_t p, uint32_t end, bool* non_ascii);

}  // namespace dsv32
