// Choosing the next token from a row of logits: penalties over what was
// already said, an optional grammar constraint (JSON Schema or regex; tokens
// it does not allow are dropped before anything else chooses), temperature,
// truncation (top-k, top-p, min-p), and a draw from a per-request random
// stream so a seed reproduces a completion.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "structured/token_constraint.h"

namespace dsv32 {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int32_t top_k = 0;                // 0: all tokens
  float top_p = 1.0f;               // 1: no nucleus cut
  float min_p = 0.0f;               // 0: no floor relative to the best token
  float repetition_penalty = 1.0f;  // >1 discourages any token seen in prompt or output
  float presence_penalty = 0.0f;    // subtracted once from tokens already generated
  float frequency_penalty = 0.0f;   // subtracted per earlier occurrence in the output
  int64_t seed = -1;                // < 0: a fresh random seed
  int32_t top_logprobs = 0;         // how many alternatives to report per token
  // Where the output must stay within a grammar: each Sampler starts from
  // this position (normally the grammar's start) and advances its own copy.
  // Its vocabulary should be as wide as the logits; ids past it are masked.
  std::optional<structured::TokenConstraint> constraint;
};

// Checks ranges (temperature >= 0, top_p in (0, 1], ...).
Status ValidateSamplingParams(const SamplingParams& params);

// Reads temperature / top_p / top_k from `dir`/generation_config.json over
// `defaults`; the file is optional, a malformed one is an error.
Result<SamplingParams> LoadGenerationDefaults(const std::string& dir, SamplingParams defaults);

struct TokenLogprob {
  int32_t token;
  float logprob;
};

struct SampledToken {
  int32_t token = -1;
  // Log-probability of `token` under the model's own distribution (the raw
  // logits' softmax, before penalties, temperature and truncation).
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // top_logprobs best, most likely first
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // The prompt counts for the repetition penalty only.
  void ObservePrompt(std::span<const int32_t> prompt);
  // Records a generated token for the penalties and the constraint.
  void Accept(int32_t token);

  // With a constraint, only tokens it allows are drawn; should none be
  // (a vocabulary without the bytes the grammar needs), its first end token.
  SampledToken Sample(std::span<const float> logits);
  // What Sample reports beside its choice, for `token` chosen another way
  // (a speculative draft the target accepted): its logprob and the
  // top_logprobs alternatives under `logits`.
  SampledToken Report(std::span<const float> logits, int32_t token) const;

  // The distribution Sample draws from for these logits, over the whole
  // vocabulary: penalties, temperature and truncation applied, zero outside
  // what truncation keeps, summing to 1 (all on the best token when greedy).
  // Speculative decoding compares the target's and the draft's with it.
  void Distribution(std::span<const float> logits, std::vector<double>* probs);
  // A token drawn from `probs` (non-negative, positive sum, normalized or
  // not) with this sampler's random stream.
  int32_t Draw(std::span<const double> probs);
  // A uniform value in [0, 1) from the same stream.
  double Uniform();
  const std::optional<structured::TokenConstraint>& constraint() const { return constraint_; }

 private:
  // work_ = logits with the repetition, presence and frequency penalties.
  void Penalize(std::span<const float> logits);
  // After Penalize, with a constraint: masks what it does not allow in
  // work_ (allowed_ holds the bits); false when it allows nothing.
  bool ApplyConstraint();
  // After Penalize, when sampling: order_ gets the candidates (the allowed
  // ones when constrained) best first and probs_ their probabilities after
  // temperature; returns how many of them top-k, min-p and top-p keep.
  size_t Candidates(bool constrained);
  // How many candidates are sorted first when top-p or min-p will cut.
  static constexpr size_t kSortedPrefix = 256;

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::unordered_set<int32_t> seen_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
  std::vector<double> probs_;
  std::optional<structured::TokenConstraint> constraint_;
  std::vector<uint64_t> allowed_;
};

}  // namespace dsv32
