// Choosing the next token from a row of logits: penalties over what was
// already said, temperature, truncation (top-k, top-p, min-p), and a draw
// from a per-request random stream so a seed reproduces a completion.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"

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
  // Records a generated token for the penalties.
  void Accept(int32_t token);

  SampledToken Sample(std::span<const float> logits);

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

 private:
  // work_ = logits with the repetition, presence and frequency penalties.
  void Penalize(std::span<const float> logits);
  // After Penalize, when sampling: order_ gets the candidates best first
  // and probs_ their probabilities after temperature; returns how many of
  // them top-k, min-p and top-p keep.
  size_t Candidates();

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::unordered_set<int32_t> seen_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
  std::vector<double> probs_;
};

}  // namespace dsv32
