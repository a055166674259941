// Added tokens (the special and control tokens listed in tokenizer.json's
// "added_tokens"): found in raw text before pre-tokenization and emitted as
// their own ids. Matching follows the reference: leftmost-longest, first the
// tokens marked "normalized": false over the whole text, then the
// "normalized": true ones inside the gaps the first pass left.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/pre_tokenizer.h"

namespace dsv32 {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;     // dropped by decode when asked to skip special tokens
  bool normalized = false;  // matched after normalization (second pass)
};

// A piece of the text: an added token's id, or plain text (id < 0).
struct TextSegment {
  TextSpan span;
  int32_t id;
};

class AddedVocabulary {
 public:
  // Fails on empty content or the same content twice.
  static Result<AddedVocabulary> Build(const std::vector<AddedToken>& tokens);

  // Appends the segments of `text` in order. Plain-text segments are never
  // empty.
  void Split(std::string_view text, std::vector<TextSegment>* out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie of one pass's tokens.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t id = -1;  // the token that ends here
    };
    std::vector<Node> nodes{Node{}};
    std::array<bool, 256> first{};  // bytes that can start a token

    void Insert(std::string_view content, int32_t id);
    // The longest token at text[pos...]: its length and id, or length 0.
    std::pair<size_t, int32_t> LongestAt(std::string_view text, size_t pos) const;
    bool empty() const { return nodes.size() == 1; }
  };

  static void SplitWith(const Trie& trie, std::string_view text, TextSpan span,
                        std::vector<TextSegment>* out);

  std::vector<AddedToken> tokens_;
  Trie raw_;         // "normalized": false
  Trie normalized_;  // "normalized": true
};

}  // namespace dsv32
