// Text that contains none of a few words, as a regular expression: what
// lets a grammar say "free text up to the first closing tag" (tool-call
// markup, reasoning that ends at "</think>").
//
// The language is built as an Aho-Corasick automaton over code points: one
// state per proper prefix of the words (the longest one the text ends
// with), so its DFA has about as many states as the words have characters,
// and constrained decoding computes a mask for each of those few states once.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "structured/regex.h"

namespace dsv32::structured {

// Any text (valid UTF-8, possibly empty) in which no word of `words` occurs.
// InvalidArgument for an empty word or one that is not valid UTF-8.
Result<Regex> TextAvoiding(const std::vector<std::string_view>& words);

// Text in which the first occurrence of any of `words` is `end`, at its very
// end: free text closed by a marker. `end` need not be one of `words`; it
// is avoided before the close too.
Result<Regex> TextUntil(std::string_view end, std::vector<std::string_view> words = {});

}  // namespace dsv32::structured
