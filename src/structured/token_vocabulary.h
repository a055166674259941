// The tokens constrained decoding chooses from, as bytes and as a trie.
//
// Only the tokenizer's BPE vocabulary takes part: special and other added
// tokens ("<｜User｜>", "<think>") are never allowed by a grammar, unless
// named as markup tokens (a tool-call reply's "</think>", which V3.2's
// tokenizer has as one added token), and neither are ids past the
// tokenizer's (the model's vocab_size may be larger: V3.2's is 129280, its
// tokenizer's 128815). Masks are vocab_size bits wide.
//
// The trie is stored in preorder, so walking it beside a DFA is one pass
// over an array that skips whole subtrees once the DFA rejects their prefix.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/tokenizer.h"

namespace dsv32::structured {

class TokenVocabulary {
 public:
  struct Node {
    uint8_t byte;    // the edge from the parent
    uint16_t depth;  // 1 for children of the root
    int32_t skip;    // the first node after this one's subtree
    int32_t tokens;  // tokens ending here: token_ids()[tokens .. next node's tokens)
  };

  // `vocab_size`: the model's (logits') width; 0 = the tokenizer's id_limit.
  // Added tokens whose text is one of `markup` take part as that text.
  static Result<std::shared_ptr<const TokenVocabulary>> Build(
      const Tokenizer& tokenizer, int32_t vocab_size = 0,
      std::span<const std::string_view> markup = {});
  // From explicit token bytes (id = index; empty = never allowed), for tests.
  static Result<std::shared_ptr<const TokenVocabulary>> FromBytes(std::vector<std::string> bytes,
                                                                  int32_t vocab_size);

  int32_t vocab_size() const { return vocab_size_; }
  // How many ids a grammar may allow.
  int32_t usable_tokens() const { return static_cast<int32_t>(token_ids_.size()); }
  // Empty for ids that are never allowed.
  std::string_view bytes(int32_t id) const {
    return id >= 0 && id < static_cast<int32_t>(bytes_.size()) ? bytes_[static_cast<size_t>(id)]
                                                               : std::string_view();
  }
  const std::vector<Node>& nodes() const { return nodes_; }  // plus a sentinel at the end
  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  int32_t max_depth() const { return max_depth_; }

 private:
  int32_t vocab_size_ = 0;
  int32_t max_depth_ = 0;
  std::vector<std::string> bytes_;
  std::vector<Node> nodes_;
  std::vector<int32_t> token_ids_;
};

}  // namespace dsv32::structured
