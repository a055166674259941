// Regular expressions as trees over Unicode code points: what the regex
// parser produces and what the JSON Schema compiler builds directly. A tree
// compiles to a byte-level DFA over UTF-8 (structured/dfa.h).
//
// The pattern syntax is the subset constrained decoding needs, matched
// against the whole text (no search): literals, escapes (\n \t \r \f \v \0
// \xHH \uHHHH \d \w \s \D \W \S and escaped punctuation), classes [a-z] [^...],
// ".", alternation, groups ( ), (?: ), (?<name> ), (?P<name> ) and the
// quantifiers ? * + {m} {m,} {m,n} (lazy forms match the same strings). A
// leading ^ and a trailing $ are accepted and change nothing. Backreferences,
// lookaround, other anchors and inline flags are Unsupported errors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dsv32::structured {

// Inclusive code point range.
struct CodepointRange {
  uint32_t lo = 0;
  uint32_t hi = 0;
};

struct RegexNode;
using Regex = std::shared_ptr<const RegexNode>;

// A deterministic automaton over code points, for languages whose regular
// expression would be huge while their automaton is small (text that avoids
// given words, structured/text_avoiding.h). State 0 starts; a code point
// with no edge out of a state rejects.
struct CodepointAutomaton {
  struct Edge {
    CodepointRange range;
    int32_t to = 0;
  };
  struct State {
    std::vector<Edge> edges;  // disjoint ranges
    bool accepting = false;
  };
  std::vector<State> states;
};

struct RegexNode {
  enum class Kind { kSet, kConcat, kAlt, kRepeat, kAutomaton };
  Kind kind = Kind::kConcat;
  // kSet: one code point from these sorted, disjoint ranges; none matches nothing.
  std::vector<CodepointRange> ranges;
  // kConcat (empty: the empty string), kAlt (empty: nothing), kRepeat (one child).
  std::vector<Regex> children;
  int32_t min = 0;
  int32_t max = 0;                                      // kRepeat: -1 = unbounded
  std::shared_ptr<const CodepointAutomaton> automaton;  // kAutomaton
};

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
// Repetition counts above this are Unsupported (the DFA would grow too big).
constexpr int32_t kMaxRepeatCount = 10000;

// Builders. Set normalises (sorts and merges) its ranges.
Regex Set(std::vector<CodepointRange> ranges);
Regex Char(uint32_t codepoint);
Regex Literal(std::string_view utf8);  // the exact text
Regex Concat(std::vector<Regex> parts);
Regex Alt(std::vector<Regex> options);
Regex Repeat(Regex child, int32_t min, int32_t max);
Regex Optional(Regex child);
Regex Empty();
Regex Nothing();
// The strings `automaton` accepts (it should have at least one state).
Regex Automaton(CodepointAutomaton automaton);
// `regex` with the code points in `ranges` taken out of every set and
// automaton edge: the strings it matches that contain none of them.
Regex WithoutCodepoints(const Regex& regex, const std::vector<CodepointRange>& ranges);

// The code points not in `ranges` (sorted, disjoint), surrogates excluded.
std::vector<CodepointRange> Complement(const std::vector<CodepointRange>& ranges);

// Parses `pattern`; errors name the offset of the problem.
Result<Regex> ParseRegex(std::string_view pattern);

}  // namespace dsv32::structured
