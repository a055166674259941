// Speculative decoding with the MTP layer: greedy output equal to plain
// greedy decoding, caches rolled back to what they would be without the
// drafts, and the sampling rule keeping the target distribution.
#include "engine/speculative.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <tuple>

#include "core/thread_pool.h"
#include "engine/test_model.h"
#include "model/golden.h"

namespace dsv32 {
namespace {

// Models with an MTP layer: the reference fixtures (weights from the
// reference tooling) and one written by init-random.
std::shared_ptr<const Model> LoadModel(const std::string& name) {
  if (name == "random") return testing::RandomModel("tiny-engine-mtp.json");
  static std::map<std::string, std::shared_ptr<const Model>> loaded;
  auto& slot = loaded[name];
  if (slot) return slot;
  const std::string dir = testing::FixtureDir(name);
  if (!std::filesystem::exists(dir)) return nullptr;
  auto model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status().message();
  if (model.ok()) slot = std::move(model).value();
  return slot;
}

std::vector<int32_t> Prompt(const Model& model, size_t n) {
  std::vector<int32_t> prompt(n);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (auto& t : prompt) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t = static_cast<int32_t>(x % static_cast<uint64_t>(model.config().vocab_size));
  }
  return prompt;
}

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// Plain greedy decoding: the prompt in one pass, then one token per pass.
std::vector<int32_t> PlainGreedy(const Model& model, const std::vector<int32_t>& prompt,
                                 size_t generate, ThreadPool* pool) {
  KvCache cache(model.config(), 0);
  Sampler sampler(Greedy());
  sampler.ObservePrompt(prompt);
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  ForwardOptions options;
  options.all_logits = false;
  std::vector<int32_t> tokens = prompt;
  EXPECT_TRUE(model.Forward(&cache, prompt, 0, pool, options, logits.data()).ok());
  while (tokens.size() < prompt.size() + generate) {
    tokens.push_back(sampler.Sample(logits).token);
    sampler.Accept(tokens.back());
    EXPECT_TRUE(model
                    .Forward(&cache, std::span(&tokens.back(), 1),
                             static_cast<int64_t>(tokens.size()) - 1, pool, options, logits.data())
                    .ok());
  }
  return tokens;
}

SpeculativeDecoder MakeDecoder(const Model& model, const SamplingParams& sampling,
                               const SpeculativeOptions& options, ThreadPool* pool) {
  auto decoder = SpeculativeDecoder::Create(model, sampling, options, pool);
  EXPECT_TRUE(decoder.ok()) << decoder.status().message();
  return std::move(decoder).value();
}

// Runs the decoder until the sequence is prompt + generate tokens long
// (the last step may overshoot; the surplus is dropped).
std::vector<int32_t> Decode(SpeculativeDecoder* decoder, const std::vector<int32_t>& prompt,
                            size_t generate) {
  EXPECT_TRUE(decoder->Start(prompt).ok());
  std::vector<int32_t> out;
  while (decoder->tokens().size() < prompt.size() + generate) {
    Status s = decoder->Step(&out);
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) break;
  }
  std::vector<int32_t> tokens = decoder->tokens();
  tokens.resize(std::min(tokens.size(), prompt.size() + generate));
  return tokens;
}

class GreedySpeculativeTest : public ::testing::TestWithParam<std::tuple<std::string, int32_t>> {};

TEST_P(GreedySpeculativeTest, SameTokensAsPlainGreedy) {
  const auto& [name, k] = GetParam();
  auto model = LoadModel(name);
  if (!model) GTEST_SKIP() << "fixture " << name << " not found";
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = Prompt(*model, 9);
  constexpr size_t kGenerate = 20;
  const std::vector<int32_t> plain = PlainGreedy(*model, prompt, kGenerate, &pool);

  SpeculativeOptions options;
  options.draft_tokens = k;
  SpeculativeDecoder mtp = MakeDecoder(*model, Greedy(), options, &pool);
  EXPECT_EQ(Decode(&mtp, prompt, kGenerate), plain) << "MTP drafts";
  EXPECT_EQ(mtp.stats().drafted, mtp.stats().steps * k);

  // Drafts that are mostly right (the plain continuation with every fifth
  // position wrong) walk every path: all accepted with the bonus token,
  // some accepted, none.
  options.replace_drafts = [&](int64_t position, std::span<int32_t> drafts) {
    for (size_t j = 0; j < drafts.size(); ++j) {
      const auto at = static_cast<size_t>(position) + j;
      const int32_t right = at < plain.size() ? plain[at] : 0;
      drafts[j] =
          at % 5 == 0 ? (right + 1) % static_cast<int32_t>(model->config().vocab_size) : right;
    }
  };
  SpeculativeDecoder oracle = MakeDecoder(*model, Greedy(), options, &pool);
  EXPECT_EQ(Decode(&oracle, prompt, kGenerate), plain) << "mostly right drafts";
  EXPECT_GT(oracle.stats().accepted, 0);
  EXPECT_LT(oracle.stats().accepted, oracle.stats().drafted);
  EXPECT_LT(oracle.stats().steps, static_cast<int64_t>(kGenerate) - 1) << "fewer main passes";
}

INSTANTIATE_TEST_SUITE_P(Models, GreedySpeculativeTest,
                         ::testing::Combine(::testing::Values("tiny-a", "tiny-v3", "random"),
                                            ::testing::Values(1, 2, 3)),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param) + "_k" +
                                              std::to_string(std::get<1>(info.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Every field of every layer at positions [0, length), to the rounding of
// the matmuls: a verify pass runs its tokens through the multi-token GEMV,
// whose sums round differently from a pass over fewer tokens, while an
// entry a rejected draft left behind would be off by far more.
void ExpectSameEntries(const KvCache& a, const KvCache& b, int64_t layers) {
  ASSERT_EQ(a.length(), b.length());
  EXPECT_EQ(a.pages().size(), b.pages().size());
  auto expect_near = [](const std::vector<float>& x, const std::vector<float>& y, const char* what,
                        int64_t l, int64_t pos) {
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(x[i], y[i], 1e-5f * std::max(1.0f, std::fabs(y[i])))
          << what << ", layer " << l << " position " << pos << " element " << i;
  };
  std::vector<float> la(static_cast<size_t>(a.kv_lora_rank())), lb(la.size());
  std::vector<float> ra(static_cast<size_t>(a.rope_dim())), rb(ra.size());
  std::vector<float> ia(static_cast<size_t>(a.index_dim())), ib(ia.size());
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t pos = 0; pos < a.length(); ++pos) {
      a.LoadLatent(l, pos, la.data(), ra.data());
      b.LoadLatent(l, pos, lb.data(), rb.data());
      expect_near(la, lb, "latent", l, pos);
      expect_near(ra, rb, "rope key", l, pos);
      if (ia.empty()) continue;
      a.LoadIndexKey(l, pos, ia.data());
      b.LoadIndexKey(l, pos, ib.data());
      expect_near(ia, ib, "indexer key", l, pos);
    }
}

// A step whose second draft is wrong: one draft kept, two rolled back, over
// a page boundary (64-token pages), in the main cache and the MTP layer's.
// Both then equal caches that only ever saw the kept tokens, written in
// passes of the same shapes and attention paths.
TEST(SpeculativeCacheTest, RejectedDraftsLeaveNoTrace) {
  auto model = testing::RandomModel("tiny-engine-mtp.json");
  ASSERT_TRUE(model);
  const ModelConfig& c = model->config();
  const int64_t H = c.hidden_size;
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = Prompt(*model, 62);
  const std::vector<int32_t> plain = PlainGreedy(*model, prompt, 4, &pool);
  SpeculativeOptions options;
  options.draft_tokens = 3;
  options.replace_drafts = [&](int64_t position, std::span<int32_t> drafts) {
    if (position != 63) return;  // only the first step's
    drafts[0] = plain[63];
    drafts[1] = (plain[64] + 1) % static_cast<int32_t>(c.vocab_size);
    drafts[2] = plain[65];
  };
  SpeculativeDecoder decoder = MakeDecoder(*model, Greedy(), options, &pool);
  ASSERT_TRUE(decoder.Start(prompt).ok());
  std::vector<int32_t> out;
  ASSERT_TRUE(decoder.Step(&out).ok());
  EXPECT_EQ(out, std::vector<int32_t>(plain.begin() + 63, plain.begin() + 65));
  EXPECT_EQ(decoder.stats().accepted, 1);
  EXPECT_EQ(decoder.cache().length(), 64);
  EXPECT_EQ(decoder.mtp_cache().length(), 62);

  // The main model: the prompt, then the token after it and the kept draft.
  KvCache main(c, 0);
  std::vector<float> logits(static_cast<size_t>(3 * c.vocab_size));
  std::vector<float> hidden;
  ForwardOptions o;
  o.all_logits = false;
  o.last_hidden = &hidden;
  ASSERT_TRUE(model->Forward(&main, prompt, 0, &pool, o, logits.data()).ok());
  ForwardOptions step;  // steps attend in the latent space
  step.attention_path = AttentionPath::kAbsorbed;
  ASSERT_TRUE(
      model->Forward(&main, std::span(plain).subspan(62, 2), 62, &pool, step, logits.data()).ok());
  ExpectSameEntries(decoder.cache(), main, c.num_hidden_layers);

  // The MTP layer: positions 0..60 with the prompt's hidden states, then 61.
  KvCache mtp(model->mtp_cache_config(), 0);
  ASSERT_TRUE(model
                  ->ForwardMtp(&mtp, std::span(plain).subspan(1, 61),
                               std::span(hidden).first(static_cast<size_t>(61 * H)), 0, &pool, {},
                               nullptr)
                  .ok());
  ASSERT_TRUE(model
                  ->ForwardMtp(&mtp, std::span(plain).subspan(62, 1),
                               std::span(hidden).subspan(static_cast<size_t>(61 * H)), 61, &pool,
                               step, nullptr)
                  .ok());
  ExpectSameEntries(decoder.mtp_cache(), mtp, 1);
  EXPECT_EQ(decoder.cache().pool().used_pages(), 1) << "the page past the boundary is back";

  // And decoding goes on as plain decoding does.
  while (decoder.tokens().size() < plain.size()) ASSERT_TRUE(decoder.Step(&out).ok());
  EXPECT_EQ(std::vector<int32_t>(decoder.tokens().begin(), decoder.tokens().begin() + 66), plain);
}

// The rejection rule on a small vocabulary: the tokens it returns follow p
// (chi-square over 200000 trials), and drafts are accepted at the rate
// sum_i min(p_i, q_i), whatever q is, even where q misses p's support.
TEST(SpeculativeSamplingTest, RuleKeepsTheTargetDistribution) {
  const std::vector<double> p = {0.40, 0.25, 0.15, 0.10, 0.10, 0.00};
  const std::vector<double> q = {0.10, 0.50, 0.00, 0.15, 0.05, 0.20};
  SamplingParams params;
  params.seed = 20260101;
  Sampler sampler(params);
  constexpr int kTrials = 200000;
  std::vector<int> counts(p.size());
  int accepted = 0;
  for (int i = 0; i < kTrials; ++i) {
    const int32_t draft = sampler.Draw(q);
    const DraftVerdict v = JudgeDraft(p, q, draft, &sampler);
    ASSERT_GE(v.token, 0);
    ++counts[static_cast<size_t>(v.token)];
    accepted += v.accepted;
  }
  EXPECT_EQ(counts[5], 0) << "never a token p rules out";
  double chi2 = 0.0;
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    const double expected = p[i] * kTrials;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_LT(chi2, 18.47) << "chi-square, 4 degrees of freedom, p = 0.001";
  double overlap = 0.0;
  for (size_t i = 0; i < p.size(); ++i) overlap += std::min(p[i], q[i]);
  EXPECT_NEAR(static_cast<double>(accepted) / kTrials, overlap, 0.004);
}

// Sampling through the decoder: reproducible from a seed, and a draft the
// target rules out (top-k 1 leaves one token) is never kept.
TEST(SpeculativeSamplingTest, SeededDecodingRepeatsAndHonoursTruncation) {
  auto model = testing::RandomModel("tiny-engine-mtp.json");
  ASSERT_TRUE(model);
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = Prompt(*model, 7);
  SamplingParams sampling;
  sampling.temperature = 0.8f;
  sampling.seed = 5;
  SpeculativeOptions options;
  options.draft_tokens = 2;
  SpeculativeDecoder a = MakeDecoder(*model, sampling, options, &pool);
  SpeculativeDecoder b = MakeDecoder(*model, sampling, options, &pool);
  EXPECT_EQ(Decode(&a, prompt, 12), Decode(&b, prompt, 12));

  // top-k 1 makes sampling greedy: the output is plain greedy decoding's.
  sampling.top_k = 1;
  const std::vector<int32_t> plain = PlainGreedy(*model, prompt, 12, &pool);
  options.replace_drafts = [&](int64_t position, std::span<int32_t> drafts) {
    for (size_t j = 0; j < drafts.size(); ++j)
      drafts[j] = plain[std::min(plain.size() - 1, static_cast<size_t>(position) + j)];
  };
  SpeculativeDecoder c = MakeDecoder(*model, sampling, options, &pool);
  EXPECT_EQ(Decode(&c, prompt, 12), plain);
  EXPECT_GT(c.stats().accepted, 0);
}

TEST(SpeculativeTest, ModelWithoutMtpIsAClearError) {
  auto model = testing::RandomModel("tiny-engine.json");
  ASSERT_TRUE(model);
  ASSERT_FALSE(model->has_mtp());
  ThreadPool pool(1);
  auto decoder = SpeculativeDecoder::Create(*model, Greedy(), {}, &pool);
  ASSERT_FALSE(decoder.ok());
  EXPECT_EQ(decoder.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(decoder.status().message().find("num_nextn_predict_layers is 0"), std::string::npos)
      << decoder.status().message();
}

TEST(SpeculativeTest, BadOptionsAndMisuseAreErrors) {
  auto model = testing::RandomModel("tiny-engine-mtp.json");
  ASSERT_TRUE(model);
  ThreadPool pool(1);
  SpeculativeOptions options;
  options.draft_tokens = 0;
  EXPECT_EQ(SpeculativeDecoder::Create(*model, Greedy(), options, &pool).status().code(),
            StatusCode::kInvalidArgument);
  options.draft_tokens = 3;
  options.max_context = 8;
  SpeculativeDecoder decoder = MakeDecoder(*model, Greedy(), options, &pool);
  std::vector<int32_t> out;
  EXPECT_EQ(decoder.Step(&out).code(), StatusCode::kInvalidArgument) << "Step before Start";
  EXPECT_EQ(decoder.Start({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.Start(Prompt(*model, 8)).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(decoder.Start(Prompt(*model, 4)).ok());
  // Steps draft less near the end and stop exactly at max_context.
  Status s;
  while ((s = decoder.Step(&out)).ok()) {
  }
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(decoder.tokens().size(), 8u);
  EXPECT_EQ(decoder.cache().length(), 7);
}

}  // namespace
}  // namespace dsv32
