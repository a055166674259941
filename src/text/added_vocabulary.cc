#include "text/added_vocabulary.h"

#include <set>

namespace dsv32 {

void AddedVocabulary::Trie::Insert(std::string_view content, int32_t id) {
  int32_t node = 0;
  for (char ch : content) {
    const auto c = static_cast<uint8_t>(ch);
    int32_t child = -1;
    for (const auto& [byte, index] : nodes[node].children)
      if (byte == c) child = index;
    if (child < 0) {
      child = static_cast<int32_t>(nodes.size());
      nodes[node].children.emplace_back(c, child);
      nodes.emplace_back();
    }
    node = child;
  }
  nodes[node].id = id;
  first[static_cast<uint8_t>(content[0])] = true;
}

std::pair<size_t, int32_t> AddedVocabulary::Trie::LongestAt(std::string_view text,
                                                            size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    int32_t child = -1;
    for (const auto& [byte, index] : nodes[node].children)
      if (byte == c) child = index;
    if (child < 0) break;
    node = child;
    if (nodes[node].id >= 0) best = {i + 1 - pos, nodes[node].id};
  }
  return best;
}

Result<AddedVocabulary> AddedVocabulary::Build(const std::vector<AddedToken>& tokens) {
  AddedVocabulary v;
  std::set<std::string_view> seen;
  for (const AddedToken& t : tokens) {
    if (t.content.empty())
      return FormatError("added token " + std::to_string(t.id) + " has empty content");
    if (!seen.insert(t.content).second)
      return FormatError("added token '" + t.content + "' is listed twice");
    (t.normalized ? v.normalized_ : v.raw_).Insert(t.content, t.id);
  }
  v.tokens_ = tokens;
  return v;
}

void AddedVocabulary::SplitWith(const Trie& trie, std::string_view text, TextSpan span,
                                std::vector<TextSegment>* out) {
  uint32_t plain = span.begin;
  uint32_t pos = span.begin;
  const std::string_view limited = text.substr(0, span.end);
  while (pos < span.end) {
    if (!trie.first[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [length, id] = trie.LongestAt(limited, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    if (pos > plain) out->push_back({{plain, pos}, -1});
    out->push_back({{pos, pos + static_cast<uint32_t>(length)}, id});
    pos += static_cast<uint32_t>(length);
    plain = pos;
  }
  if (span.end > plain) out->push_back({{plain, span.end}, -1});
}

void AddedVocabulary::Split(std::string_view text, std::vector<TextSegment>* out) const {
  const TextSpan whole{0, static_cast<uint32_t>(text.size())};
  if (normalized_.empty()) return SplitWith(raw_, text, whole, out);
  std::vector<TextSegment> first;
  SplitWith(raw_, text, whole, &first);
  for (const TextSegment& s : first) {
    if (s.id >= 0)
      out->push_back(s);
    else
      SplitWith(normalized_, text, s.span, out);
  }
}

}  // namespace dsv32
