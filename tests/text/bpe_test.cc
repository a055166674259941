#include "text/bpe.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace dsv32 {
namespace {

std::array<int32_t, 256> IdentityBytes() {
  std::array<int32_t, 256> ids{};
  for (int b = 0; b < 256; ++b) ids[b] = b;
  return ids;
}

std::vector<int32_t> Encode(const BpeModel& m, std::string_view word) {
  std::vector<int32_t> ids;
  m.EncodeWord(word, &ids);
  return ids;
}

TEST(BpeTest, MergesLowestRankFirstAndLeftmostAmongEquals) {
  // 256 = "ab", 257 = "bc", 258 = "aa", 259 = "aaa"
  auto m = BpeModel::Build(IdentityBytes(),
                           {{'b', 'c', 257}, {'a', 'b', 256}, {'a', 'a', 258}, {258, 'a', 259}});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(Encode(*m, "abc"), (std::vector<int32_t>{'a', 257}));  // "bc" ranks before "ab"
  EXPECT_EQ(Encode(*m, "abd"), (std::vector<int32_t>{256, 'd'}));
  EXPECT_EQ(Encode(*m, "aaaa"), (std::vector<int32_t>{258, 258}));  // leftmost pair first
  EXPECT_EQ(Encode(*m, "aaa"), (std::vector<int32_t>{259}));
  EXPECT_EQ(Encode(*m, ""), (std::vector<int32_t>{}));
  EXPECT_EQ(Encode(*m, "x"), (std::vector<int32_t>{'x'}));
  // Cached the second time; same answer.
  EXPECT_EQ(Encode(*m, "abc"), (std::vector<int32_t>{'a', 257}));
}

TEST(BpeTest, RefusesARepeatedPair) {
  auto m = BpeModel::Build(IdentityBytes(), {{'a', 'b', 256}, {'a', 'b', 257}});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFormatError);
}

// The scan (short words) and the queue (long words) must agree everywhere.
TEST(BpeTest, ScanAndQueueAgreeOnRandomMergesAndWords) {
  std::mt19937 rng(7);
  std::vector<BpeMerge> merges;
  std::vector<int32_t> tokens = {'a', 'b', 'c'};
  std::set<std::pair<int32_t, int32_t>> used;
  int32_t next = 256;
  while (merges.size() < 200) {
    const int32_t l = tokens[rng() % tokens.size()];
    const int32_t r = tokens[rng() % tokens.size()];
    if (!used.insert({l, r}).second) continue;
    merges.push_back({l, r, next});
    tokens.push_back(next++);
  }
  auto m = BpeModel::Build(IdentityBytes(), merges);
  ASSERT_TRUE(m.ok());
  for (int trial = 0; trial < 2000; ++trial) {
    std::string word(1 + rng() % 48, 'a');
    for (char& c : word) c = static_cast<char>('a' + rng() % 3);
    std::vector<int32_t> scan, queue;
    m->EncodeWordByScan(word, &scan);
    m->EncodeWordByQueue(word, &queue);
    ASSERT_EQ(scan, queue) << word;
  }
}

}  // namespace
}  // namespace dsv32
