// The prefix tree alone: longest-prefix reuse at page granularity, LRU
// eviction under its own limit and under pool pressure, statistics.
#include "attention/prefix_cache.h"

#include <gtest/gtest.h>

#include <numeric>

namespace dsv32 {
namespace {

class PrefixCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = LoadModelConfig(std::string(DSV32_TEST_DATA_DIR) + "/configs/tiny-v32.json");
    ASSERT_TRUE(c.ok());
    config_ = *c;
    KvPoolOptions o;
    o.page_tokens = 4;
    o.budget_bytes = 6 * KvPagePool::PageBytes(config_, o);
    pool_ = KvPagePool::Create(config_, o).value();
  }
  // A sequence that has "computed" `tokens` (the contents do not matter here).
  KvCache Computed(std::span<const int32_t> tokens) {
    KvCache seq(pool_, config_, 0);
    EXPECT_TRUE(seq.Reserve(static_cast<int64_t>(tokens.size())).ok());
    seq.SetLength(static_cast<int64_t>(tokens.size()));
    return seq;
  }
  static std::vector<int32_t> Range(int32_t first, int32_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), first);
    return v;
  }
  ModelConfig config_;
  std::shared_ptr<KvPagePool> pool_;
};

TEST_F(PrefixCacheTest, ReusesTheLongestCachedPrefixInWholePages) {
  PrefixCache prefixes(pool_, 0);
  const std::vector<int32_t> a = Range(0, 10);  // pages [0..3] [4..7], 2 left over
  {
    KvCache seq = Computed(a);
    prefixes.Insert(a, seq);
  }
  EXPECT_EQ(prefixes.cached_pages(), 2);
  EXPECT_EQ(pool_->used_pages(), 2);  // the tree keeps its pages alive

  std::vector<int32_t> b = Range(0, 12);
  b[6] = 99;  // diverges inside the second page
  KvCache seq(pool_, config_, 0);
  auto reused = prefixes.Attach(b, &seq);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(*reused, 4);
  EXPECT_EQ(seq.length(), 4);
  EXPECT_EQ(pool_->ref_count(seq.pages()[0]), 2);

  // A prompt that is exactly the cached prefix keeps its last token to
  // evaluate: only the first page is reused.
  KvCache exact(pool_, config_, 0);
  EXPECT_EQ(prefixes.Attach(std::span(a).first(8), &exact).value(), 4);
  KvCache longer(pool_, config_, 0);
  EXPECT_EQ(prefixes.Attach(Range(0, 9), &longer).value(), 8);
  KvCache miss(pool_, config_, 0);
  EXPECT_EQ(prefixes.Attach(Range(5, 9), &miss).value(), 0);

  const PrefixCacheStats& s = prefixes.stats();
  EXPECT_EQ(s.lookups, 4);
  EXPECT_EQ(s.hits, 3);
  EXPECT_EQ(s.reused_tokens, 16);
  EXPECT_EQ(s.missed_tokens, 12 - 4 + 8 - 4 + 9 - 8 + 9);
  EXPECT_EQ(s.inserted_pages, 2);
}

TEST_F(PrefixCacheTest, EvictsLeastRecentlyUsedLeavesUnderItsLimit) {
  PrefixCache prefixes(pool_, 2);
  const auto a = Range(0, 4), b = Range(100, 4), c = Range(200, 4);
  for (const auto* t : {&a, &b}) {
    KvCache seq = Computed(*t);
    prefixes.Insert(*t, seq);
  }
  KvCache touch(pool_, config_, 0);
  EXPECT_EQ(prefixes.Attach(Range(0, 5), &touch).value(), 4);  // a is now recent
  touch.Clear();
  {
    KvCache seq = Computed(c);
    prefixes.Insert(c, seq);
  }
  EXPECT_EQ(prefixes.cached_pages(), 2);
  EXPECT_EQ(prefixes.stats().evicted_pages, 1);
  KvCache probe(pool_, config_, 0);
  EXPECT_EQ(prefixes.Attach(Range(100, 5), &probe).value(), 0);  // b went
  EXPECT_EQ(prefixes.Attach(Range(0, 5), &touch).value(), 4);    // a stayed
}

TEST_F(PrefixCacheTest, EvictionUnderPoolPressureFreesPagesForNewSequences) {
  PrefixCache prefixes(pool_, 0);
  const auto a = Range(0, 16);  // 4 pages
  {
    KvCache seq = Computed(a);
    prefixes.Insert(a, seq);
  }
  KvCache user(pool_, config_, 0);
  ASSERT_EQ(prefixes.Attach(Range(0, 5), &user).value(), 4);  // holds page 0
  EXPECT_EQ(pool_->free_pages(), 2);

  KvCache big(pool_, config_, 0);
  Status s = big.Reserve(16);
  ASSERT_EQ(s.code(), StatusCode::kOutOfMemory);
  big.Clear();
  // Page 0 is in use by `user`, so three pages at most can come back.
  EXPECT_EQ(prefixes.Evict(10), 3);
  EXPECT_EQ(prefixes.cached_pages(), 1);
  EXPECT_EQ(pool_->free_pages(), 5);
  EXPECT_TRUE(big.Reserve(16).ok());
  user.Clear();
  prefixes.Clear();
  big.Clear();
  EXPECT_EQ(pool_->used_pages(), 0);
}

TEST_F(PrefixCacheTest, AttachRejectsBusySequencesAndOtherPools) {
  PrefixCache prefixes(pool_, 0);
  KvCache busy = Computed(Range(0, 2));
  EXPECT_EQ(prefixes.Attach(Range(0, 8), &busy).status().code(), StatusCode::kInvalidArgument);
  KvCache other(config_, 0);
  EXPECT_EQ(prefixes.Attach(Range(0, 8), &other).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsv32
