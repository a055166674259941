// A batched step over several sequences gives each the logits it would get
// alone.
#include <gtest/gtest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "engine/test_model.h"

namespace dsv32 {
namespace {

double RelativeError(const std::vector<float>& a, const float* b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += a[i] * a[i];
  }
  return std::sqrt(diff / norm);
}

void CheckBatchMatchesSingle(const std::string& config) {
  auto model = testing::RandomModel(config);
  ASSERT_TRUE(model);
  const ModelConfig& c = model->config();
  const auto V = static_cast<size_t>(c.vocab_size);
  ThreadPool pool(2);
  const std::vector<int32_t> a = {3, 14, 15, 92, 65, 35, 89};
  const std::vector<int32_t> b = {7, 1, 8, 2, 8};
  const std::vector<int32_t> d = {11, 22, 33, 44, 55, 66, 77, 88, 99};

  // Alone: the logits of each sequence's last token.
  auto alone = [&](const std::vector<int32_t>& t) {
    KvCache cache(c, 0);
    ForwardOptions o;
    o.all_logits = false;
    std::vector<float> logits(V);
    EXPECT_TRUE(model->Forward(&cache, t, 0, &pool, o, logits.data()).ok());
    return logits;
  };

  // Batched: a fresh prefill, a decode after a prefill, a chunk continuing
  // a partial prefill, and a chunk whose logits nobody wants.
  KvCache ca(c, 0), cb(c, 0), cd(c, 0), ce(c, 0);
  std::vector<float> scratch(b.size() * V);
  ASSERT_TRUE(model->Forward(&cb, std::span(b).first(4), 0, &pool, {}, scratch.data()).ok());
  ASSERT_TRUE(model->Forward(&cd, std::span(d).first(3), 0, &pool, {}, scratch.data()).ok());
  std::vector<float> la(V), lb(V), ld(V);
  const std::vector<SequenceStep> steps = {
      {&ca, a, 0, la.data()},
      {&cb, std::span(b).subspan(4), 4, lb.data()},
      {&cd, std::span(d).subspan(3), 3, ld.data()},
      {&ce, std::span(d).first(2), 0, nullptr},
  };
  ExpertLoad load(c.num_hidden_layers, c.n_routed_experts);
  ASSERT_TRUE(model->ForwardBatch(steps, &pool, &load).ok());
  EXPECT_LT(RelativeError(alone(a), la.data()), 1e-5);
  EXPECT_LT(RelativeError(alone(b), lb.data()), 1e-5);
  EXPECT_LT(RelativeError(alone(d), ld.data()), 1e-5);
  EXPECT_EQ(cd.length(), 9);
  EXPECT_EQ(ce.length(), 2);

  uint64_t routed = 0;
  for (int64_t l = 0; l < load.layers(); ++l)
    for (int64_t e = 0; e < load.experts(); ++e) routed += load.count(l, e);
  int64_t moe_layers = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) moe_layers += model->weights().layers[l].is_moe;
  EXPECT_EQ(routed, static_cast<uint64_t>((7 + 1 + 6 + 2) * c.num_experts_per_tok * moe_layers));
}

TEST(ForwardBatchTest, SparseModelMatchesSingleSequences) {
  CheckBatchMatchesSingle("tiny-engine.json");
}
TEST(ForwardBatchTest, DenseModelMatchesSingleSequences) {
  CheckBatchMatchesSingle("tiny-engine-v3.json");
}

// A verify step asks for every row's logits and the hidden states: both as
// Forward gives them for the sequence alone. Rows share a matmul with the
// other sequence's, which rounds differently (to f32) from Forward's, hence
// the tolerance.
TEST(ForwardBatchTest, AllRowsLogitsAndHiddenStatesMatchForward) {
  auto model = testing::RandomModel();
  ASSERT_TRUE(model);
  const ModelConfig& c = model->config();
  const auto V = static_cast<size_t>(c.vocab_size);
  const auto H = static_cast<size_t>(c.hidden_size);
  ThreadPool pool(2);
  const std::vector<int32_t> a = {5, 6, 7, 8, 9, 10};
  const std::vector<int32_t> b = {40, 41, 42};
  KvCache alone(c, 0);
  std::vector<float> alone_logits(a.size() * V), alone_hidden;
  ForwardOptions o;
  o.last_hidden = &alone_hidden;
  ASSERT_TRUE(model->Forward(&alone, a, 0, &pool, o, alone_logits.data()).ok());

  KvCache ca(c, 0), cb(c, 0);
  std::vector<float> scratch(V);
  ForwardOptions last;
  last.all_logits = false;
  ASSERT_TRUE(model->Forward(&ca, std::span(a).first(2), 0, &pool, last, scratch.data()).ok());
  std::vector<float> la(4 * V), lb(V), ha;
  SequenceStep verify{&ca, std::span(a).subspan(2), 2, la.data()};
  verify.all_logits = true;
  verify.last_hidden = &ha;
  verify.attention_path = AttentionPath::kAbsorbed;
  const std::vector<SequenceStep> steps = {verify, {&cb, b, 0, lb.data()}};
  ASSERT_TRUE(model->ForwardBatch(steps, &pool, nullptr).ok());
  ASSERT_EQ(ha.size(), 4 * H);
  for (size_t i = 0; i < 4; ++i) {
    const std::vector<float> want(alone_logits.begin() + (2 + i) * V,
                                  alone_logits.begin() + (3 + i) * V);
    EXPECT_LT(RelativeError(want, &la[i * V]), 1e-4) << "row " << i;
    const std::vector<float> want_h(alone_hidden.begin() + (2 + i) * H,
                                    alone_hidden.begin() + (3 + i) * H);
    EXPECT_LT(RelativeError(want_h, &ha[i * H]), 1e-4) << "row " << i;
  }
}

// The MTP layer over several sequences at once (how the engine drafts)
// gives each what ForwardMtp gives it alone, to matmul rounding.
TEST(ForwardBatchTest, MtpBatchMatchesForwardMtp) {
  auto model = testing::RandomModel("tiny-engine-mtp.json");
  ASSERT_TRUE(model);
  const ModelConfig& c = model->config();
  const auto V = static_cast<size_t>(c.vocab_size);
  const auto H = static_cast<size_t>(c.hidden_size);
  ThreadPool pool(2);
  const std::vector<int32_t> a = {5, 6, 7, 8, 9};
  const std::vector<int32_t> b = {40, 41};
  std::vector<float> hidden_a(a.size() * H), hidden_b(b.size() * H);
  for (size_t i = 0; i < hidden_a.size(); ++i) hidden_a[i] = std::sin(0.1f * i);
  for (size_t i = 0; i < hidden_b.size(); ++i) hidden_b[i] = std::cos(0.2f * i);
  auto alone = [&](const std::vector<int32_t>& t, const std::vector<float>& h,
                   std::vector<float>* g) {
    KvCache cache(model->mtp_cache_config(), 0);
    ForwardOptions o;
    o.last_hidden = g;
    std::vector<float> logits(t.size() * V);
    EXPECT_TRUE(model->ForwardMtp(&cache, t, h, 0, &pool, o, logits.data()).ok());
    return logits;
  };
  std::vector<float> ga, gb;
  const std::vector<float> la = alone(a, hidden_a, &ga), lb = alone(b, hidden_b, &gb);

  KvCache ca(model->mtp_cache_config(), 0), cb(model->mtp_cache_config(), 0);
  std::vector<float> all_a(a.size() * V), last_b(V), got_ga;
  MtpStep sa{&ca, a, hidden_a, 0, all_a.data(), true, &got_ga};
  MtpStep sb{&cb, b, hidden_b, 0, last_b.data(), false, nullptr};
  const std::vector<MtpStep> steps = {sa, sb};
  ASSERT_TRUE(model->ForwardMtpBatch(steps, AttentionPath::kAuto, &pool).ok());
  EXPECT_EQ(ca.length(), 5);
  EXPECT_EQ(cb.length(), 2);
  EXPECT_LT(RelativeError(la, all_a.data()), 1e-4);
  EXPECT_LT(RelativeError(ga, got_ga.data()), 1e-4);
  EXPECT_LT(RelativeError(std::vector<float>(lb.end() - V, lb.end()), last_b.data()), 1e-4);
  std::vector<MtpStep> shared = {sa, sa};
  EXPECT_EQ(model->ForwardMtpBatch(shared, AttentionPath::kAuto, &pool).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ca.length(), 5);
}

TEST(ForwardBatchTest, BadStepsAreRejectedBeforeAnyCacheChanges) {
  auto model = testing::RandomModel();
  ASSERT_TRUE(model);
  const ModelConfig& c = model->config();
  KvCache ca(c, 0), cb(c, 0);
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  const std::vector<int32_t> good = {1, 2, 3};
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(c.vocab_size)};
  EXPECT_FALSE(model->ForwardBatch(std::vector<SequenceStep>{}, nullptr, nullptr).ok());
  std::vector<SequenceStep> steps = {{&ca, good, 0, logits.data()}, {&cb, bad, 0, nullptr}};
  EXPECT_EQ(model->ForwardBatch(steps, nullptr, nullptr).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(ca.length(), 0);
  steps = {{&ca, good, 0, nullptr}, {&ca, good, 0, nullptr}};
  EXPECT_EQ(model->ForwardBatch(steps, nullptr, nullptr).code(), StatusCode::kInvalidArgument);
  steps = {{&ca, good, 2, nullptr}};
  EXPECT_EQ(model->ForwardBatch(steps, nullptr, nullptr).code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace dsv32
