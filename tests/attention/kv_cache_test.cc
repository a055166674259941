// The paged cache: layouts and their byte counts, pages under a budget,
// sharing, copy-on-write and rollback.
#include "attention/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "attention/kv_layout.h"

namespace dsv32 {
namespace {

ModelConfig Config(const std::string& name) {
  auto c = LoadModelConfig(std::string(DSV32_TEST_DATA_DIR) + "/configs/" + name + ".json");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : ModelConfig{};
}

TEST(KvLayoutTest, EntryFormatMatchesBytesPerToken) {
  for (const char* name : {"tiny-v32", "tiny-v3", "deepseek-v3.2"}) {
    const ModelConfig c = Config(name);
    for (KvLayout layout : {KvLayout::kF32, KvLayout::kBf16, KvLayout::kFp8})
      EXPECT_EQ(KvEntryFormat::For(c, layout).bytes(), KvBytesPerTokenPerLayer(c, layout))
          << name << " " << KvLayoutName(layout);
  }
}

// docs/kv-cache.md works these out by hand for DeepSeek-V3.2.
TEST(KvLayoutTest, RealV32BytesPerTokenAreTheHandComputedOnes) {
  const ModelConfig c = Config("deepseek-v3.2");
  // fp8_ds_mla: 512 E4M3 + 4 scales * 4 + 64 bf16 * 2 = 656; indexer 128 + 4.
  EXPECT_EQ(KvBytesPerTokenPerLayer(c, KvLayout::kFp8), 656 + 132);
  EXPECT_EQ(KvBytesPerToken(c, KvLayout::kFp8), 61 * 788);
  EXPECT_EQ(KvBytesPerToken(c, KvLayout::kBf16), 61 * 2 * (512 + 64 + 128));
  EXPECT_EQ(KvBytesPerToken(c, KvLayout::kF32), 61 * 4 * (512 + 64 + 128));
}

TEST(KvFormatTest, RoundTripErrorPerLayout) {
  const ModelConfig c = Config("tiny-v32");
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (KvLayout layout : {KvLayout::kF32, KvLayout::kBf16, KvLayout::kFp8}) {
    const KvFieldFormat f = KvEntryFormat::For(c, layout).field(KvField::kLatent);
    std::vector<float> x(static_cast<size_t>(f.dim)), y(x.size());
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> values(static_cast<size_t>(f.value_bytes())),
        scales(static_cast<size_t>(f.scale_bytes()) + 1);
    EncodeKvField(f, x.data(), values.data(), scales.data());
    DecodeKvField(f, values.data(), scales.data(), y.data());
    double worst = 0.0;
    for (size_t i = 0; i < x.size(); ++i)
      worst =
          std::max(worst, std::fabs(double(x[i]) - y[i]) / std::max(1e-3, std::fabs(double(x[i]))));
    const double bound = layout == KvLayout::kF32    ? 0.0
                         : layout == KvLayout::kBf16 ? 1.0 / 256
                                                     : 1.0;
    EXPECT_LE(worst, bound) << KvLayoutName(layout);
    if (layout == KvLayout::kFp8) {
      // Relative error of E4M3 is 2^-4 for values within the scaled range's
      // normal numbers; smaller values lose more, bounded absolutely.
      float amax = 0.0f;
      for (float v : x) amax = std::max(amax, std::fabs(v));
      for (size_t i = 0; i < x.size(); ++i)
        EXPECT_LE(std::fabs(x[i] - y[i]), std::max(std::fabs(x[i]) / 16.0f, amax / 448.0f * 0.01f));
    }
  }
}

class PoolTest : public ::testing::Test {
 protected:
  std::shared_ptr<KvPagePool> MakePool(int64_t pages, KvLayout layout = KvLayout::kF32) {
    KvPoolOptions o;
    o.layout = layout;
    o.page_tokens = 4;
    o.budget_bytes = pages * KvPagePool::PageBytes(config_, o);
    auto pool = KvPagePool::Create(config_, o);
    EXPECT_TRUE(pool.ok()) << pool.status().message();
    return *pool;
  }
  std::vector<float> Entry(float seed) const {
    std::vector<float> v(static_cast<size_t>(config_.kv_lora_rank + config_.qk_rope_head_dim));
    for (size_t i = 0; i < v.size(); ++i) v[i] = seed + 0.001f * static_cast<float>(i);
    return v;
  }
  void Write(KvCache* cache, int64_t pos, float seed) {
    const std::vector<float> e = Entry(seed);
    for (int64_t l = 0; l < config_.num_hidden_layers; ++l)
      cache->StoreLatent(l, pos, e.data(), e.data() + config_.kv_lora_rank);
  }
  float Read(const KvCache& cache, int64_t pos) const {
    std::vector<float> e = Entry(0);
    cache.LoadLatent(config_.num_hidden_layers - 1, pos, e.data(), e.data() + config_.kv_lora_rank);
    return e[0];
  }
  ModelConfig config_ = Config("tiny-v32");
};

TEST_F(PoolTest, RunningOutOfPagesIsAnErrorNotACrash) {
  auto pool = MakePool(3);
  EXPECT_EQ(pool->max_pages(), 3);
  KvCache a(pool, config_, 0);
  ASSERT_TRUE(a.Reserve(12).ok());
  EXPECT_EQ(pool->free_pages(), 0);
  KvCache b(pool, config_, 0);
  const Status s = b.Reserve(1);
  EXPECT_EQ(s.code(), StatusCode::kOutOfMemory);
  EXPECT_NE(s.message().find("KV cache is full"), std::string::npos) << s.message();
  a.SetLength(12);
  a.Truncate(5);  // keeps pages 0 and 1
  EXPECT_EQ(pool->free_pages(), 1);
  EXPECT_TRUE(b.Reserve(4).ok());
  b.Clear();
  a.Clear();
  EXPECT_EQ(pool->used_pages(), 0);
}

TEST_F(PoolTest, ForkSharesPagesAndCopiesOnWrite) {
  auto pool = MakePool(8);
  KvCache parent(pool, config_, 0);
  ASSERT_TRUE(parent.Reserve(6).ok());
  for (int64_t p = 0; p < 6; ++p) Write(&parent, p, static_cast<float>(p));
  parent.SetLength(6);
  auto child = parent.Fork(6);
  ASSERT_TRUE(child.ok()) << child.status().message();
  EXPECT_EQ(child->length(), 6);
  EXPECT_EQ(child->pages(), parent.pages());
  EXPECT_EQ(pool->used_pages(), 2);
  EXPECT_EQ(pool->ref_count(parent.pages()[1]), 2);

  // The child appends at position 6: its second page is shared, so it is
  // copied first and the parent keeps its own values.
  ASSERT_TRUE(child->Reserve(7, 6).ok());
  EXPECT_EQ(child->pages()[0], parent.pages()[0]);
  EXPECT_NE(child->pages()[1], parent.pages()[1]);
  Write(&*child, 6, 60.0f);
  Write(&*child, 5, 50.0f);
  child->SetLength(7);
  EXPECT_EQ(Read(parent, 5), 5.0f);
  EXPECT_EQ(Read(*child, 5), 50.0f);
  EXPECT_EQ(Read(*child, 4), 4.0f);
  EXPECT_EQ(pool->used_pages(), 3);
  child = Status(StatusCode::kCancelled, "drop");
  EXPECT_EQ(pool->used_pages(), 2);
  EXPECT_EQ(pool->ref_count(parent.pages()[0]), 1);
}

TEST_F(PoolTest, CopyOnWriteNeedsAFreePage) {
  auto pool = MakePool(1);
  KvCache parent(pool, config_, 0);
  ASSERT_TRUE(parent.Reserve(2).ok());
  parent.SetLength(2);
  auto child = parent.Fork(2);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->Reserve(3, 2).code(), StatusCode::kOutOfMemory);
}

TEST_F(PoolTest, ContextLimitIsOutOfRange) {
  auto pool = MakePool(4);
  KvCache a(pool, config_, 8);
  EXPECT_EQ(a.max_tokens(), 8);
  EXPECT_EQ(a.Reserve(9).code(), StatusCode::kOutOfRange);
  KvCache full(config_, 0);
  EXPECT_EQ(full.max_tokens(), config_.max_position_embeddings);
}

TEST_F(PoolTest, ABudgetBelowOnePageIsRejected) {
  KvPoolOptions o;
  o.budget_bytes = 10;
  EXPECT_EQ(KvPagePool::Create(config_, o).status().code(), StatusCode::kInvalidArgument);
  o.budget_bytes = 1 << 20;
  o.page_tokens = 6;
  EXPECT_EQ(KvPagePool::Create(config_, o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsv32
