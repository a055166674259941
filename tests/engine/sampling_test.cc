// Each sampling rule on hand-made logits with fixed seeds.
#include "engine/sampling.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace dsv32 {
namespace {

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  p.seed = 1;
  return p;
}

// Logits whose softmax is exactly `probs`.
std::vector<float> FromProbs(std::vector<double> probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::set<int32_t> Draws(const SamplingParams& p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < n; ++i) seen.insert(s.Sample(logits).token);
  return seen;
}

TEST(SamplingTest, GreedyTakesTheFirstBest) {
  Sampler s(Greedy());
  EXPECT_EQ(s.Sample(std::vector<float>{0.5f, 3.0f, 3.0f, -1.0f}).token, 1);
}

TEST(SamplingTest, TemperatureFollowsTheSoftmax) {
  SamplingParams p;
  p.seed = 7;
  p.temperature = 2.0f;
  const std::vector<float> logits = {0.0f, std::log(4.0f) * 2.0f};  // at T=2: 1 : 4
  Sampler s(p);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.Sample(logits).token == 1;
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.8, 0.015);
}

TEST(SamplingTest, SameSeedSameDraws) {
  SamplingParams p;
  p.seed = 42;
  const std::vector<float> logits = FromProbs({0.1, 0.2, 0.3, 0.4});
  Sampler a(p), b(p);
  p.seed = 43;
  Sampler c(p);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const int32_t ta = a.Sample(logits).token;
    EXPECT_EQ(ta, b.Sample(logits).token);
    differ += ta != c.Sample(logits).token;
  }
  EXPECT_GT(differ, 0);
}

TEST(SamplingTest, TopKKeepsTheKBest) {
  SamplingParams p;
  p.seed = 3;
  p.top_k = 2;
  EXPECT_EQ(Draws(p, FromProbs({0.1, 0.4, 0.2, 0.3}), 2000), (std::set<int32_t>{1, 3}));
}

TEST(SamplingTest, TopPKeepsTheSmallestPrefixReachingP) {
  SamplingParams p;
  p.seed = 4;
  p.top_p = 0.75f;
  EXPECT_EQ(Draws(p, FromProbs({0.15, 0.5, 0.3, 0.05}), 2000), (std::set<int32_t>{1, 2}));
  p.top_p = 0.5f;
  EXPECT_EQ(Draws(p, FromProbs({0.15, 0.5, 0.3, 0.05}), 2000), (std::set<int32_t>{1}));
}

TEST(SamplingTest, MinPDropsTokensFarBelowTheBest) {
  SamplingParams p;
  p.seed = 5;
  p.min_p = 0.5f;  // floor 0.25 against the best 0.5
  EXPECT_EQ(Draws(p, FromProbs({0.15, 0.5, 0.3, 0.05}), 2000), (std::set<int32_t>{1, 2}));
}

TEST(SamplingTest, RepetitionPenaltyCoversThePrompt) {
  SamplingParams p = Greedy();
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  const std::vector<int32_t> prompt = {0, 2};
  s.ObservePrompt(prompt);
  // 2.0 / 2 = 1.0 falls below 1.9; -0.1 * 2 = -0.2 stays below.
  EXPECT_EQ(s.Sample(std::vector<float>{2.0f, 1.9f, -0.1f}).token, 1);
  // A negative logit is pushed further down (-0.6 to -1.2), not up.
  EXPECT_EQ(s.Sample(std::vector<float>{-1.0f, -1.1f, -0.6f}).token, 1);
}

TEST(SamplingTest, PresencePenaltyCountsOnce) {
  SamplingParams p = Greedy();
  p.presence_penalty = 0.5f;
  Sampler s(p);
  const std::vector<float> logits = {2.0f, 1.9f};
  EXPECT_EQ(s.Sample(logits).token, 0);
  s.Accept(0);
  EXPECT_EQ(s.Sample(logits).token, 1);
}

TEST(SamplingTest, FrequencyPenaltyGrowsWithCount) {
  SamplingParams p = Greedy();
  p.frequency_penalty = 0.06f;
  Sampler s(p);
  const std::vector<float> logits = {2.0f, 1.9f};
  s.Accept(0);
  EXPECT_EQ(s.Sample(logits).token, 0);  // 1.94
  s.Accept(0);
  EXPECT_EQ(s.Sample(logits).token, 1);  // 1.88
}

TEST(SamplingTest, LogprobsAreTheRawDistribution) {
  SamplingParams p = Greedy();
  p.top_logprobs = 2;
  p.presence_penalty = 10.0f;
  Sampler s(p);
  s.Accept(1);
  const SampledToken t = s.Sample(FromProbs({0.2, 0.5, 0.3}));
  EXPECT_EQ(t.token, 2);
  EXPECT_NEAR(t.logprob, std::log(0.3), 1e-5);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].token, 1);
  EXPECT_NEAR(t.top[0].logprob, std::log(0.5), 1e-5);
  EXPECT_EQ(t.top[1].token, 2);
}

// Tokens "a" "b" "ab" "x" and an end token 4, under the regex (ab)+.
SamplingParams Constrained(SamplingParams p) {
  auto vocab = structured::TokenVocabulary::FromBytes({"a", "b", "ab", "x"}, 6);
  auto grammar = structured::TokenGrammar::FromRegex("(ab)+", vocab.value());
  p.constraint = structured::TokenConstraint::Create(grammar.value(), {4}).value();
  return p;
}

TEST(SamplingTest, ConstraintMasksBeforeChoosing) {
  // "x" is the model's favourite, but never allowed; the end only after a match.
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, 9.0f, 8.0f, 7.0f};
  Sampler greedy(Constrained(Greedy()));
  std::string text;
  for (int step = 0; step < 4; ++step) {
    const int32_t t = greedy.Sample(logits).token;
    greedy.Accept(t);
    if (t == 4) break;
    text += "ab"[t];
  }
  EXPECT_EQ(text, "ab");
  EXPECT_TRUE(greedy.constraint()->IsFinished());

  double sum = 0.0;
  for (float v : logits) sum += std::exp(v);
  const auto log_sum = static_cast<float>(std::log(sum));
  SamplingParams p;
  p.top_k = 2;
  p.top_p = 0.9f;
  for (int run = 0; run < 20; ++run) {
    p.seed = run;
    Sampler s(Constrained(p));
    for (int step = 0; step < 30 && !s.constraint()->IsFinished(); ++step) {
      const SampledToken t = s.Sample(logits);
      ASSERT_TRUE(s.constraint()->Allows(t.token)) << t.token;
      // Log-probabilities stay those of the unmasked row.
      EXPECT_NEAR(t.logprob, logits[static_cast<size_t>(t.token)] - log_sum, 1e-5);
      s.Accept(t.token);
    }
  }
}

TEST(SamplingTest, ValidationRejectsBadValues) {
  SamplingParams p;
  EXPECT_TRUE(ValidateSamplingParams(p).ok());
  p.temperature = -1.0f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.top_p = 0.0f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.min_p = 2.0f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.top_k = -3;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.repetition_penalty = 0.0f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.top_logprobs = 1000;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
}

TEST(SamplingTest, GenerationConfigGivesDefaults) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("dsv32_gen_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto missing = LoadGenerationDefaults(dir.string(), {});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->temperature, 1.0f);
  std::ofstream(dir / "generation_config.json") << R"({"temperature": 0.6, "top_p": 0.95})";
  auto loaded = LoadGenerationDefaults(dir.string(), {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_FLOAT_EQ(loaded->temperature, 0.6f);
  EXPECT_FLOAT_EQ(loaded->top_p, 0.95f);
  std::ofstream(dir / "generation_config.json") << R"({"temperature": "hot"})";
  EXPECT_FALSE(LoadGenerationDefaults(dir.string(), {}).ok());
  std::ofstream(dir / "generation_config.json") << R"({"top_p": 3})";
  EXPECT_FALSE(LoadGenerationDefaults(dir.string(), {}).ok());
  fs::remove_all(dir);
}

// Distribution is the law Sample draws from, after penalties, temperature
// and truncation; Draw follows any given weights.
TEST(SamplingTest, DistributionIsWhatSampleDrawsFrom) {
  SamplingParams p;
  p.seed = 11;
  p.temperature = 0.7f;
  p.top_k = 4;
  p.top_p = 0.9f;
  p.presence_penalty = 0.5f;
  const std::vector<float> logits = FromProbs({0.05, 0.3, 0.2, 0.25, 0.15, 0.05});
  Sampler s(p);
  s.Accept(1);
  std::vector<double> probs;
  s.Distribution(logits, &probs);
  ASSERT_EQ(probs.size(), logits.size());
  double total = 0.0;
  for (double v : probs) total += v;
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_EQ(probs[0], 0.0) << "outside top-k";
  EXPECT_EQ(probs[5], 0.0);
  std::vector<int> sampled(logits.size()), drawn(logits.size());
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    ++sampled[static_cast<size_t>(s.Sample(logits).token)];
    ++drawn[static_cast<size_t>(s.Draw(probs))];
  }
  for (size_t t = 0; t < probs.size(); ++t) {
    EXPECT_NEAR(static_cast<double>(sampled[t]) / n, probs[t], 0.01) << "token " << t;
    EXPECT_NEAR(static_cast<double>(drawn[t]) / n, probs[t], 0.01) << "token " << t;
  }

  Sampler greedy(Greedy());
  greedy.Distribution(std::vector<float>{0.5f, 3.0f, 3.0f, -1.0f}, &probs);
  EXPECT_EQ(probs, (std::vector<double>{0.0, 1.0, 0.0, 0.0}));
}

}  // namespace
}  // namespace dsv32
