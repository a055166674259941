// Constrained decoding: which tokens may come next so that the output stays
// a prefix of a string the grammar matches.
//
// A TokenGrammar is a DFA plus the vocabulary it masks, shared by every
// request that uses the same schema or regex. It computes the mask of a DFA
// state on first use (one walk of the token trie beside the DFA) and keeps
// it, so a state met again costs a lookup. A TokenConstraint is one
// request's position in a grammar: a DFA state and whether an end token was
// taken; copying it forks the request.
//
// End tokens (EOS, the request's stop tokens) are allowed exactly where the
// text so far is a whole match. Every token the mask allows keeps a match
// reachable, because the DFA keeps only states from which acceptance is
// reachable. (A vocabulary could still lack the bytes a state needs; the
// byte-level BPE vocabulary has every single byte, so it never does.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "structured/dfa.h"
#include "structured/json_schema.h"
#include "structured/token_vocabulary.h"

namespace dsv32::structured {

// The tokens allowed from one DFA state (end tokens aside).
struct StateMask {
  std::vector<uint64_t> bits;  // vocab_size bits, id i at bits[i / 64] bit i % 64
  int32_t count = 0;           // how many bits are set
  // The same ids ascending, kept only when few (under 1/16 of the
  // vocabulary), so that a cached string state costs its 16 KB of bits.
  std::vector<int32_t> ids;
};

class TokenGrammar {
 public:
  static std::shared_ptr<const TokenGrammar> Create(Dfa dfa,
                                                    std::shared_ptr<const TokenVocabulary> vocab);
  // Compile and wrap; errors are those of JsonSchemaToRegex, ParseRegex and
  // Dfa::Compile (an expression that matches nothing is InvalidArgument).
  static Result<std::shared_ptr<const TokenGrammar>> FromJsonSchema(
      std::string_view schema_json, std::shared_ptr<const TokenVocabulary> vocab,
      const JsonSchemaOptions& options = {});
  static Result<std::shared_ptr<const TokenGrammar>> FromRegex(
      std::string_view pattern, std::shared_ptr<const TokenVocabulary> vocab);

  const Dfa& dfa() const { return dfa_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  // Thread-safe; the reference stays valid as long as the grammar.
  const StateMask& Mask(int32_t state) const;
  // How many states have a mask computed.
  int32_t cached_states() const { return cached_.load(std::memory_order_relaxed); }

  TokenGrammar(Dfa dfa, std::shared_ptr<const TokenVocabulary> vocab);

 private:
  std::unique_ptr<StateMask> Compute(int32_t state) const;

  Dfa dfa_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<StateMask>> owned_;           // under mu_
  mutable std::unique_ptr<std::atomic<const StateMask*>[]> slots_;  // per state
  mutable std::atomic<int32_t> cached_{0};
};

class TokenConstraint {
 public:
  // `end_tokens`: ids that end the output (at least one, each below vocab_size).
  static Result<TokenConstraint> Create(std::shared_ptr<const TokenGrammar> grammar,
                                        std::vector<int32_t> end_tokens);

  // Sets bit i of `bits` (vocab_size bits, the rest cleared) when token i
  // may come next.
  void Mask(std::span<uint64_t> bits) const;
  // Sets every disallowed logit to -infinity (ids at or past vocab_size too).
  void Mask(std::span<float> logits) const;
  bool Allows(int32_t token) const;
  // Moves past `token`; InvalidArgument, with the state unchanged, when the
  // mask would not have allowed it.
  Status Advance(int32_t token);
  // The text so far is a whole match (an end token may come next).
  bool IsComplete() const;
  // An end token was taken: only end tokens may follow.
  bool IsFinished() const { return finished_; }
  // Nothing but an end token can follow.
  bool MustEnd() const { return finished_ || grammar_->dfa().final(state_); }

  const TokenGrammar& grammar() const { return *grammar_; }
  const std::vector<int32_t>& end_tokens() const { return end_tokens_; }
  int32_t state() const { return state_; }

 private:
  TokenConstraint(std::shared_ptr<const TokenGrammar> g, std::vector<int32_t> end)
      : grammar_(std::move(g)), end_tokens_(std::move(end)) {}
  bool IsEnd(int32_t token) const;

  std::shared_ptr<const TokenGrammar> grammar_;
  std::vector<int32_t> end_tokens_;
  int32_t state_ = 0;
  bool finished_ = false;
};

}  // namespace dsv32::structured
