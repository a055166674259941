// IndexerForward's reduction hook, as a mesh splitting the indexer over TP
// uses it: an indexer cut into two halves of its heads, each half's partial
// scores completed by the other's, selects exactly what the whole indexer
// selects, in a prefill and in a decode step; and the hook's error is
// returned.
#include "attention/indexer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <span>
#include <vector>

#include "model/golden.h"
#include "model/model.h"
#include "parallel/rank_weights.h"
#include "quant/test_matrices.h"

namespace dsv32 {
namespace {

class IndexerReduceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::FixtureDir("tiny-b");
    if (!std::filesystem::exists(dir + "/config.json"))
      GTEST_SKIP() << "fixture 'tiny-b' not found at " << dir;
    auto model = Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = std::move(model).value();
    rope_ = std::make_unique<Rope>(config());
  }

  const ModelConfig& config() const { return model_->config(); }

  AttentionContext Context(int64_t tokens, int64_t first_position) const {
    AttentionContext ctx;
    ctx.config = &config();
    ctx.rope = rope_.get();
    ctx.tokens = tokens;
    ctx.first_position = first_position;
    const int64_t half = config().qk_rope_head_dim / 2;
    ctx.cos.resize(static_cast<size_t>(tokens * half));
    ctx.sin.resize(ctx.cos.size());
    for (int64_t i = 0; i < tokens; ++i)
      rope_->Angles(first_position + i, &ctx.cos[i * half], &ctx.sin[i * half]);
    return ctx;
  }

  std::unique_ptr<Model> model_;
  std::unique_ptr<Rope> rope_;
};

TEST_F(IndexerReduceTest, HalvesCompletedByEachOtherSelectAsTheWholeIndexer) {
  const ModelConfig& c = config();
  const IndexerWeights& whole = *model_->weights().layers[0].self_attn.indexer;
  const int64_t heads = c.index_n_heads, dim = c.index_head_dim;
  std::vector<std::unique_ptr<std::byte[]>> storage;
  IndexerWeights halves[2] = {whole, whole};
  for (int p = 0; p < 2; ++p) {
    const IndexRange h{p * heads / 2, (p + 1) * heads / 2};
    auto wq_b =
        SliceMatrix(whole.wq_b, {h.begin * dim, h.end * dim}, {0, whole.wq_b.cols}, &storage);
    auto weights_proj = SliceMatrix(whole.weights_proj, h, {0, whole.weights_proj.cols}, &storage);
    ASSERT_TRUE(wq_b.ok() && weights_proj.ok());
    halves[p].wq_b = *wq_b;
    halves[p].weights_proj = *weights_proj;
  }

  // More positions than index_topk, so the selection is a real top-k.
  const int64_t T = 3 * c.index_topk;
  ASSERT_TRUE(c.q_lora_rank.has_value());
  const int64_t H = c.hidden_size, rank = *c.q_lora_rank;
  std::mt19937 rng(1);
  const std::vector<float> x = RandomVector(T * H, rng), q_latent = RandomVector(T * rank, rng);
  KvCache whole_cache(c, T), half_caches[2] = {KvCache(c, T), KvCache(c, T)};
  for (KvCache* cache : {&whole_cache, &half_caches[0], &half_caches[1]})
    ASSERT_TRUE(cache->Reserve(T, 0).ok());

  for (auto [first, n] : {std::pair<int64_t, int64_t>{0, T - 1}, {T - 1, 1}}) {
    const float* xs = &x[static_cast<size_t>(first * H)];
    const float* qs = &q_latent[static_cast<size_t>(first * rank)];
    std::vector<std::vector<int32_t>> want, got, ignored;
    ASSERT_TRUE(IndexerForward(Context(n, first), whole, 0, xs, qs, &whole_cache, &want).ok());

    // The second half's scores, kept as its reduction sees them...
    std::vector<float> second;
    AttentionContext ctx = Context(n, first);
    ctx.reduce_index_scores = [&](std::span<float> scores) {
      second.assign(scores.begin(), scores.end());
      return Status::Ok();
    };
    ASSERT_TRUE(IndexerForward(ctx, halves[1], 0, xs, qs, &half_caches[1], &ignored).ok());
    // ...added to the first half's, in rank order, as the TP all-reduce does.
    ctx.reduce_index_scores = [&](std::span<float> scores) {
      EXPECT_EQ(static_cast<int64_t>(scores.size()), n * first + n * (n + 1) / 2);
      EXPECT_EQ(scores.size(), second.size());
      for (size_t i = 0; i < scores.size() && i < second.size(); ++i) scores[i] += second[i];
      return Status::Ok();
    };
    ASSERT_TRUE(IndexerForward(ctx, halves[0], 0, xs, qs, &half_caches[0], &got).ok());
    EXPECT_EQ(got, want) << "step at position " << first;
  }

  AttentionContext failing = Context(1, T - 1);
  failing.reduce_index_scores = [](std::span<float>) { return Internal("link down"); };
  std::vector<std::vector<int32_t>> selected;
  const Status s =
      IndexerForward(failing, halves[0], 0, &x[static_cast<size_t>((T - 1) * H)],
                     &q_latent[static_cast<size_t>((T - 1) * rank)], &half_caches[0], &selected);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "link down");
}

}  // namespace
}  // namespace dsv32
