#include "structured/token_constraint.h"

#include <algorithm>
#include <limits>

namespace dsv32::structured {

TokenGrammar::TokenGrammar(Dfa dfa, std::shared_ptr<const TokenVocabulary> vocab)
    : dfa_(std::move(dfa)),
      vocab_(std::move(vocab)),
      slots_(new std::atomic<const StateMask*>[static_cast<size_t>(dfa_.num_states())]) {
  for (int32_t s = 0; s < dfa_.num_states(); ++s) slots_[static_cast<size_t>(s)].store(nullptr);
}

std::shared_ptr<const TokenGrammar> TokenGrammar::Create(
    Dfa dfa, std::shared_ptr<const TokenVocabulary> vocab) {
  return std::make_shared<const TokenGrammar>(std::move(dfa), std::move(vocab));
}

Result<std::shared_ptr<const TokenGrammar>> TokenGrammar::FromJsonSchema(
    std::string_view schema_json, std::shared_ptr<const TokenVocabulary> vocab,
    const JsonSchemaOptions& options) {
  DSV32_ASSIGN_OR_RETURN(Regex regex, JsonSchemaToRegex(schema_json, options));
  auto dfa = Dfa::Compile(regex);
  if (!dfa.ok()) return dfa.status().WithContext("schema");
  return Create(std::move(dfa).value(), std::move(vocab));
}

Result<std::shared_ptr<const TokenGrammar>> TokenGrammar::FromRegex(
    std::string_view pattern, std::shared_ptr<const TokenVocabulary> vocab) {
  DSV32_ASSIGN_OR_RETURN(Regex regex, ParseRegex(pattern));
  auto dfa = Dfa::Compile(regex);
  if (!dfa.ok()) return dfa.status().WithContext("regex");
  return Create(std::move(dfa).value(), std::move(vocab));
}

std::unique_ptr<StateMask> TokenGrammar::Compute(int32_t state) const {
  auto mask = std::make_unique<StateMask>();
  mask->bits.assign((static_cast<size_t>(vocab_->vocab_size()) + 63) / 64, 0);
  const auto& nodes = vocab_->nodes();
  const auto& ids = vocab_->token_ids();
  const auto& class_of = dfa_.class_of();
  // at[d]: the DFA state after the first d bytes of the current trie path.
  std::vector<int32_t> at(static_cast<size_t>(vocab_->max_depth()) + 1);
  at[0] = state;
  const size_t n = nodes.size() - 1;  // the last node is a sentinel
  for (size_t i = 0; i < n;) {
    const TokenVocabulary::Node& node = nodes[i];
    const int32_t next = dfa_.row(at[node.depth - 1u])[class_of[node.byte]];
    if (next == Dfa::kDead) {
      i = static_cast<size_t>(node.skip);
      continue;
    }
    at[node.depth] = next;
    for (int32_t t = node.tokens; t < nodes[i + 1].tokens; ++t) {
      const auto id = static_cast<uint32_t>(ids[static_cast<size_t>(t)]);
      mask->bits[id / 64] |= uint64_t{1} << (id % 64);
    }
    ++i;
  }
  for (uint64_t word : mask->bits) mask->count += __builtin_popcountll(word);
  if (mask->count < vocab_->vocab_size() / 16)
    for (size_t w = 0; w < mask->bits.size(); ++w)
      for (uint64_t b = mask->bits[w]; b; b &= b - 1)
        mask->ids.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(b))));
  return mask;
}

const StateMask& TokenGrammar::Mask(int32_t state) const {
  std::atomic<const StateMask*>& slot = slots_[static_cast<size_t>(state)];
  if (const StateMask* m = slot.load(std::memory_order_acquire)) return *m;
  std::lock_guard lock(mu_);
  if (const StateMask* m = slot.load(std::memory_order_acquire)) return *m;
  owned_.push_back(Compute(state));
  slot.store(owned_.back().get(), std::memory_order_release);
  cached_.fetch_add(1, std::memory_order_relaxed);
  return *owned_.back();
}

Result<TokenConstraint> TokenConstraint::Create(std::shared_ptr<const TokenGrammar> grammar,
                                                std::vector<int32_t> end_tokens) {
  if (!grammar) return InvalidArgument("token constraint: no grammar");
  if (end_tokens.empty())
    return InvalidArgument("token constraint: needs an end token (EOS or a stop token)");
  for (int32_t t : end_tokens)
    if (t < 0 || t >= grammar->vocab().vocab_size())
      return OutOfRange("token constraint: end token " + std::to_string(t) +
                        " is outside the vocabulary [0, " +
                        std::to_string(grammar->vocab().vocab_size()) + ")");
  std::sort(end_tokens.begin(), end_tokens.end());
  end_tokens.erase(std::unique(end_tokens.begin(), end_tokens.end()), end_tokens.end());
  TokenConstraint c(std::move(grammar), std::move(end_tokens));
  c.state_ = c.grammar_->dfa().start();
  return c;
}

bool TokenConstraint::IsEnd(int32_t token) const {
  return std::binary_search(end_tokens_.begin(), end_tokens_.end(), token);
}

bool TokenConstraint::IsComplete() const { return finished_ || grammar_->dfa().accepting(state_); }

void TokenConstraint::Mask(std::span<uint64_t> bits) const {
  std::fill(bits.begin(), bits.end(), 0);
  if (!finished_) {
    const StateMask& m = grammar_->Mask(state_);
    std::copy_n(m.bits.begin(), std::min(bits.size(), m.bits.size()), bits.begin());
  }
  if (IsComplete())
    for (int32_t t : end_tokens_)
      if (static_cast<size_t>(t) / 64 < bits.size())
        bits[static_cast<size_t>(t) / 64] |= uint64_t{1} << (t % 64);
}

void TokenConstraint::Mask(std::span<float> logits) const {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  const size_t n = logits.size();
  const bool complete = IsComplete();
  const StateMask* m = finished_ ? nullptr : &grammar_->Mask(state_);
  if (!m || static_cast<size_t>(m->count) == m->ids.size()) {
    // Few allowed ids: fill the gaps between them (and the end tokens).
    static const std::vector<int32_t> kNone;
    const std::vector<int32_t>& ids = m ? m->ids : kNone;
    size_t i = 0, e = 0, from = 0;
    while (true) {
      size_t next = i < ids.size() ? static_cast<size_t>(ids[i]) : n;
      if (complete && e < end_tokens_.size())
        next = std::min(next, static_cast<size_t>(end_tokens_[e]));
      if (next >= n) break;
      std::fill(logits.begin() + static_cast<ptrdiff_t>(from),
                logits.begin() + static_cast<ptrdiff_t>(next), kMasked);
      from = next + 1;
      if (i < ids.size() && static_cast<size_t>(ids[i]) == next) ++i;
      if (complete && e < end_tokens_.size() && static_cast<size_t>(end_tokens_[e]) == next) ++e;
    }
    std::fill(logits.begin() + static_cast<ptrdiff_t>(std::min(from, n)), logits.end(), kMasked);
    return;
  }
  for (size_t w = 0; w * 64 < n; ++w) {
    const uint64_t word = w < m->bits.size() ? m->bits[w] : 0;
    if (word == ~uint64_t{0}) continue;
    const size_t end = std::min(n, w * 64 + 64);
    for (size_t i = w * 64; i < end; ++i)
      if (!((word >> (i % 64)) & 1) && !(complete && IsEnd(static_cast<int32_t>(i))))
        logits[i] = kMasked;
  }
}

bool TokenConstraint::Allows(int32_t token) const {
  if (IsEnd(token)) return IsComplete();
  if (finished_) return false;
  const std::string_view b = grammar_->vocab().bytes(token);
  return !b.empty() && grammar_->dfa().Walk(state_, b) != Dfa::kDead;
}

Status TokenConstraint::Advance(int32_t token) {
  if (IsEnd(token)) {
    if (!IsComplete())
      return InvalidArgument("token constraint: end token " + std::to_string(token) +
                             " before the output is complete");
    finished_ = true;
    return Status::Ok();
  }
  if (finished_)
    return InvalidArgument("token constraint: token " + std::to_string(token) +
                           " after the end token");
  const std::string_view b = grammar_->vocab().bytes(token);
  const int32_t next = b.empty() ? Dfa::kDead : grammar_->dfa().Walk(state_, b);
  if (next == Dfa::kDead)
    return InvalidArgument("token constraint: token " + std::to_string(token) +
                           " is not allowed here");
  state_ = next;
  return Status::Ok();
}

}  // namespace dsv32::structured
