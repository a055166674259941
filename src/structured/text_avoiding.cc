#include "structured/text_avoiding.h"

#include <algorithm>
#include <deque>
#include <map>

#include "text/utf8.h"

namespace dsv32::structured {

namespace {

Result<std::vector<uint32_t>> Codepoints(std::string_view word) {
  if (word.empty()) return InvalidArgument("text avoiding words: a word is empty");
  if (FirstInvalidUtf8(word) != word.size())
    return InvalidArgument("text avoiding words: a word is not valid UTF-8");
  std::vector<uint32_t> out;
  for (size_t i = 0; i < word.size();) {
    const auto lead = static_cast<unsigned char>(word[i]);
    const int n = Utf8SequenceLength(lead);
    uint32_t cp = n == 1 ? lead : lead & (0x7Fu >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(word[i + k]) & 0x3Fu);
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

// Aho-Corasick over the words; `end` < 0 for none. Trie nodes at which no
// word has occurred yet are the automaton's states (all accepting when
// there is no end); with an end, text whose first word is `end` reaches
// one more state, the only accepting one, with no way on.
Result<Regex> Build(const std::vector<std::string_view>& words, int end) {
  std::vector<std::vector<uint32_t>> cps;
  for (std::string_view w : words) {
    DSV32_ASSIGN_OR_RETURN(auto c, Codepoints(w));
    cps.push_back(std::move(c));
  }
  std::vector<std::map<uint32_t, int>> children(1);
  std::vector<int> word_at(1, -1);
  for (size_t w = 0; w < cps.size(); ++w) {
    int n = 0;
    for (uint32_t c : cps[w]) {
      auto& out = children[static_cast<size_t>(n)];
      if (const auto it = out.find(c); it != out.end()) {
        n = it->second;
        continue;
      }
      // Growing `children` may move the maps, `out` among them: done with it first.
      n = static_cast<int>(children.size());
      out.emplace(c, n);
      children.emplace_back();
      word_at.push_back(-1);
    }
    if (word_at[static_cast<size_t>(n)] < 0) word_at[static_cast<size_t>(n)] = static_cast<int>(w);
  }
  std::vector<uint32_t> alphabet;
  for (const auto& c : cps) alphabet.insert(alphabet.end(), c.begin(), c.end());
  std::sort(alphabet.begin(), alphabet.end());
  alphabet.erase(std::unique(alphabet.begin(), alphabet.end()), alphabet.end());

  // Breadth first, so a node's failure link and its targets are known
  // before the node's own. outcome: the longest word the text ends with.
  const size_t nodes = children.size(), k_max = alphabet.size();
  std::vector<int> fail(nodes, 0), outcome(nodes, -1), order;
  std::vector<int> delta(nodes * k_max, 0);
  std::deque<int> queue{0};
  while (!queue.empty()) {
    const int n = queue.front();
    queue.pop_front();
    order.push_back(n);
    const auto un = static_cast<size_t>(n);
    outcome[un] = word_at[un] >= 0 ? word_at[un]
                  : n == 0         ? -1
                                   : outcome[static_cast<size_t>(fail[un])];
    for (size_t k = 0; k < k_max; ++k) {
      const auto it = children[un].find(alphabet[k]);
      const int fallback = n == 0 ? 0 : delta[static_cast<size_t>(fail[un]) * k_max + k];
      if (it == children[un].end()) {
        delta[un * k_max + k] = fallback;
      } else {
        delta[un * k_max + k] = it->second;
        fail[static_cast<size_t>(it->second)] = fallback;
        queue.push_back(it->second);
      }
    }
  }

  std::vector<int32_t> id(nodes, -1);
  int32_t count = 0;
  for (int n : order)
    if (outcome[static_cast<size_t>(n)] < 0) id[static_cast<size_t>(n)] = count++;
  const int32_t final_state = end >= 0 ? count++ : -1;
  std::vector<CodepointRange> alphabet_ranges;
  for (uint32_t c : alphabet) alphabet_ranges.push_back({c, c});
  const std::vector<CodepointRange> others = Complement(Set(alphabet_ranges)->ranges);

  CodepointAutomaton a;
  a.states.resize(static_cast<size_t>(count));
  for (int n : order) {
    const auto un = static_cast<size_t>(n);
    if (id[un] < 0) continue;
    CodepointAutomaton::State& s = a.states[static_cast<size_t>(id[un])];
    s.accepting = end < 0;
    for (const CodepointRange& r : others) s.edges.push_back({r, 0});
    for (size_t k = 0; k < k_max; ++k) {
      const auto t = static_cast<size_t>(delta[un * k_max + k]);
      const int32_t to = outcome[t] < 0 ? id[t] : outcome[t] == end ? final_state : -1;
      if (to >= 0) s.edges.push_back({{alphabet[k], alphabet[k]}, to});
    }
  }
  if (final_state >= 0) a.states[static_cast<size_t>(final_state)].accepting = true;
  return Automaton(std::move(a));
}

}  // namespace

Result<Regex> TextAvoiding(const std::vector<std::string_view>& words) { return Build(words, -1); }

Result<Regex> TextUntil(std::string_view end, std::vector<std::string_view> words) {
  words.insert(words.begin(), end);
  return Build(words, 0);
}

}  // namespace dsv32::structured
