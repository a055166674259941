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

// Merges over "a", "b", "c" and what they make, each new token built from
// earlier ones, as a trainer writes them.
std::vector<BpeMerge> RandomMerges(std::mt19937& rng, size_t count) {
  std::vector<BpeMerge> merges;
  std::vector<int32_t> tokens = {'a', 'b', 'c'};
  std::set<std::pair<int32_t, int32_t>> used;
  int32_t next = 256;
  while (merges.size() < count) {
    const int32_t l = tokens[rng() % tokens.size()];
    const int32_t r = tokens[rng() % tokens.size()];
    if (!used.insert({l, r}).second) continue;
    merges.push_back({l, r, next});
    tokens.push_back(next++);
  }
  return merges;
}

std::string RandomWord(std::mt19937& rng, size_t size) {
  std::string word(size, 'a');
  // Half the words repeat a short unit, like the long runs of real text.
  const size_t period = rng() % 2 ? 1 + rng() % 5 : size;
  for (size_t i = 0; i < size; ++i)
    word[i] = i < period ? static_cast<char>('a' + rng() % 3) : word[i - period];
  return word;
}

void ExpectLoopsAgree(const BpeModel& m, const std::string& word) {
  std::vector<int32_t> scan, queue, rounds;
  m.EncodeWordByScan(word, &scan);
  m.EncodeWordByQueue(word, &queue);
  m.EncodeWordByRounds(word, &rounds);
  ASSERT_EQ(scan, queue) << word;
  ASSERT_EQ(rounds, queue) << word;
}

// Every merge loop must give the same ids on every word.
TEST(BpeTest, MergeLoopsAgreeOnRandomMergesAndWords) {
  std::mt19937 rng(7);
  auto m = BpeModel::Build(IdentityBytes(), RandomMerges(rng, 200));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->merges_ordered());
  for (int trial = 0; trial < 2000; ++trial) ExpectLoopsAgree(*m, RandomWord(rng, 1 + rng() % 48));
  for (int trial = 0; trial < 100; ++trial)
    ExpectLoopsAgree(*m, RandomWord(rng, 49 + rng() % 3000));
}

// A token used by a merge before the merge that makes it: merging all
// occurrences of a pair at once would differ, so that loop must not be used.
TEST(BpeTest, OutOfOrderMergesStillEncodeExactly) {
  // 256 = "ab" is made at rank 1 but used at rank 0.
  auto m = BpeModel::Build(IdentityBytes(), {{256, 'a', 257}, {'a', 'b', 256}});
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->merges_ordered());
  std::string word;
  for (int i = 0; i < 40; ++i) word += "aba";
  ExpectLoopsAgree(*m, word);
  std::vector<int32_t> ids;
  m->EncodeWordByRounds("abab", &ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{257, 'b'}));
}

}  // namespace
}  // namespace dsv32
