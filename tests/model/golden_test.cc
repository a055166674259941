// The forward pass against reference outputs: tiny-a comes from Hugging Face
// transformers' DeepseekV32ForCausalLM (shared/fixtures/README.md); the
// fixtures under tests/fixtures name their reference in their README.
// Tolerances are those of the f32 reference mode.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/thread_pool.h"
#include "model/golden.h"
#include "model/model.h"

namespace dsv32 {
namespace {

constexpr double kRowTolerance = 1e-4;
constexpr double kMinAgreement = 0.99;

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::FixtureDir(GetParam());
    if (!std::filesystem::exists(dir_ + "/golden.safetensors"))
      GTEST_SKIP() << "fixture '" << GetParam() << "' not found at " << dir_
                   << " (the shared reference data must sit beside the checkout)";
    auto model = Model::Load(dir_);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = std::move(model).value();
    golden_ = testing::Golden::Open(dir_);
    ASSERT_NE(golden_, nullptr);
    tokens_ = golden_->I32("input_ids");
    prefill_ = golden_->I32("prefill_len").at(0);
  }

  const ModelConfig& config() const { return model_->config(); }
  int64_t vocab() const { return config().vocab_size; }

  void ExpectRowsClose(const std::vector<float>& out, const std::string& key, int64_t cols) {
    const std::vector<float> golden = golden_->F32(key);
    ASSERT_EQ(out.size(), golden.size()) << key;
    const testing::RowStats s = testing::CompareRows(out, golden, cols);
    EXPECT_LE(s.worst_rel_error, kRowTolerance) << key << " worst row " << s.worst_row;
    if (cols == vocab()) {
      EXPECT_GE(s.top1_agreement, kMinAgreement) << key;
    }
    RecordProperty(key + ".worst_row_rel_error", std::to_string(s.worst_rel_error));
    std::printf("  %-14s worst row relative error %.3g, top-1 agreement %.4f\n", key.c_str(),
                s.worst_rel_error, s.top1_agreement);
  }

  std::string dir_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<testing::Golden> golden_;
  std::vector<int32_t> tokens_;
  int64_t prefill_ = 0;
  ThreadPool pool_{2};
};

TEST_P(GoldenTest, FullForwardMatchesLogitsHiddenStatesAndSelections) {
  KvCache cache(config(), 0);
  ForwardTrace trace;
  std::vector<float> last_hidden;
  ForwardOptions options;
  options.trace = &trace;
  options.last_hidden = &last_hidden;
  std::vector<float> logits(tokens_.size() * static_cast<size_t>(vocab()));
  ASSERT_TRUE(model_->Forward(&cache, tokens_, 0, &pool_, options, logits.data()).ok());
  ExpectRowsClose(logits, "full_logits", vocab());
  ExpectRowsClose(trace.final_norm, "final_norm", config().hidden_size);
  // The hidden states handed back for the MTP layer are the last layer's.
  EXPECT_EQ(last_hidden, trace.hidden.back());

  for (int64_t l = 0; l < config().num_hidden_layers; ++l) {
    const std::string layer = std::to_string(l);
    ExpectRowsClose(trace.hidden[static_cast<size_t>(l)], "hidden." + layer, config().hidden_size);
    if (golden_->Has("indexer_topk." + layer)) {
      const double agree = testing::SetAgreement(trace.indexer_topk[static_cast<size_t>(l)],
                                                 golden_->I32("indexer_topk." + layer),
                                                 config().index_topk);
      EXPECT_GE(agree, kMinAgreement) << "indexer_topk." << layer;
    }
    if (golden_->Has("expert_ids." + layer)) {
      const auto& ids = trace.expert_ids[static_cast<size_t>(l)];
      const auto golden_ids = golden_->I32("expert_ids." + layer);
      ASSERT_EQ(ids.size(), golden_ids.size());
      EXPECT_GE(testing::SetAgreement(ids, golden_ids, config().num_experts_per_tok), kMinAgreement)
          << "expert_ids." << layer;
      const auto golden_w = golden_->F32("expert_weights." + layer);
      const auto& w = trace.expert_weights[static_cast<size_t>(l)];
      for (size_t i = 0; i < w.size(); ++i)
        if (ids[i] == golden_ids[i]) {
          EXPECT_NEAR(w[i], golden_w[i], 1e-4) << "expert_weights." << layer;
        }
    }
  }
}

// Prefill the first P tokens in one batch, then decode one token at a time
// with the cache (teacher forcing), as `dsv32 score` does.
TEST_P(GoldenTest, PrefillThenDecodeMatchesCachedLogits) {
  KvCache cache(config(), 0);
  const auto T = static_cast<int64_t>(tokens_.size());
  std::vector<float> logits(static_cast<size_t>(T * vocab()));
  ForwardOptions options;
  ASSERT_TRUE(model_->Forward(&cache, std::span(tokens_).first(static_cast<size_t>(prefill_)), 0,
                              &pool_, options, logits.data())
                  .ok());
  for (int64_t i = prefill_; i < T; ++i) {
    ASSERT_TRUE(model_->Forward(&cache, std::span(tokens_).subspan(static_cast<size_t>(i), 1), i,
                                &pool_, options, &logits[static_cast<size_t>(i * vocab())])
                    .ok());
  }
  ExpectRowsClose(logits, "logits", vocab());
}

// Decoding through the absorbed (latent-space) path and the naive
// (expanded keys and values) path gives the same logits.
TEST_P(GoldenTest, AbsorbedAndNaiveDecodeAgree) {
  const int64_t decode_from = prefill_;
  std::vector<float> per_path[2];
  const AttentionPath paths[2] = {AttentionPath::kNaive, AttentionPath::kAbsorbed};
  for (int p = 0; p < 2; ++p) {
    KvCache cache(config(), 0);
    ForwardOptions options;
    options.attention_path = paths[p];
    options.all_logits = false;
    std::vector<float> logits(static_cast<size_t>(vocab()));
    ASSERT_TRUE(model_->Forward(&cache, std::span(tokens_).first(static_cast<size_t>(decode_from)),
                                0, &pool_, options, logits.data())
                    .ok());
    for (int64_t i = decode_from; i < decode_from + 4; ++i) {
      ASSERT_TRUE(model_->Forward(&cache, std::span(tokens_).subspan(static_cast<size_t>(i), 1), i,
                                  &pool_, options, logits.data())
                      .ok());
      per_path[p].insert(per_path[p].end(), logits.begin(), logits.end());
    }
  }
  const testing::RowStats s = testing::CompareRows(per_path[1], per_path[0], vocab());
  EXPECT_LE(s.worst_rel_error, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::Values("tiny-a", "tiny-b", "tiny-v3"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dsv32
