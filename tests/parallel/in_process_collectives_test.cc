#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "collective_cases.h"
#include "parallel/in_process_communicator.h"

namespace dsv32 {
namespace {

using Case = std::string (*)(Communicator&);

// Runs one case on n threads of a fresh world; returns the failures.
std::vector<std::string> RunOnThreads(int n, Case c) {
  auto world = MakeInProcessWorld(n);
  std::vector<std::string> failures(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back(
        [&, r] { failures[static_cast<size_t>(r)] = c(*world[static_cast<size_t>(r)]); });
  for (auto& t : threads) t.join();
  std::vector<std::string> out;
  for (auto& f : failures)
    if (!f.empty()) out.push_back(f);
  return out;
}

class InProcessCollectives : public ::testing::TestWithParam<int> {};

#define DSV32_COLLECTIVE_CASE(Name)                                                            \
  TEST_P(InProcessCollectives, Name) {                                                         \
    for (const auto& f : RunOnThreads(GetParam(), collective_cases::Name)) ADD_FAILURE() << f; \
  }

DSV32_COLLECTIVE_CASE(AllReduceSum)
DSV32_COLLECTIVE_CASE(LargeAllReduceSum)
DSV32_COLLECTIVE_CASE(AllGather)
DSV32_COLLECTIVE_CASE(ReduceScatterSum)
DSV32_COLLECTIVE_CASE(AllToAllV)
DSV32_COLLECTIVE_CASE(Broadcast)
DSV32_COLLECTIVE_CASE(Barrier)
DSV32_COLLECTIVE_CASE(SplitEvenOdd)
DSV32_COLLECTIVE_CASE(MismatchIsAnError)

INSTANTIATE_TEST_SUITE_P(Devices, InProcessCollectives, ::testing::Values(1, 2, 4, 8),
                         [](const auto& info) { return std::to_string(info.param); });

TEST(InProcessCollectivesTest, AllReduceIsBitIdenticalAcrossRuns) {
  // Same inputs, many runs: the rank-order sum leaves no room for timing.
  std::vector<float> first;
  for (int run = 0; run < 20; ++run) {
    auto world = MakeInProcessWorld(8);
    std::vector<std::vector<float>> out(8);
    std::vector<std::thread> threads;
    for (int r = 0; r < 8; ++r)
      threads.emplace_back([&, r] {
        std::vector<float> v(64);
        for (size_t i = 0; i < v.size(); ++i) v[i] = 1.0f / static_cast<float>(1 + r + 3 * i);
        EXPECT_TRUE(world[static_cast<size_t>(r)]->AllReduceSum(v).ok());
        out[static_cast<size_t>(r)] = v;
      });
    for (auto& t : threads) t.join();
    for (int r = 1; r < 8; ++r) EXPECT_EQ(out[0], out[static_cast<size_t>(r)]);
    if (run == 0) first = out[0];
    EXPECT_EQ(first, out[0]);
  }
}

TEST(InProcessCollectivesTest, AllToAllVCountDisagreementIsAnErrorEverywhere) {
  auto world = MakeInProcessWorld(2);
  std::vector<Status> results(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      std::vector<float> send(4, 1.0f), recv(4);
      // Rank 0 says it sends 2 to rank 1; rank 1 expects 1 from rank 0.
      std::vector<int64_t> sc = {1, 2}, rc = {r == 1 ? 1 : 1, 1};
      if (r == 1) sc = {1, 1};
      results[static_cast<size_t>(r)] =
          world[static_cast<size_t>(r)]->AllToAllV(send, sc, recv, rc);
    });
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
}

TEST(InProcessCollectivesTest, LocalArgumentErrors) {
  auto world = MakeInProcessWorld(1);
  Communicator& c = *world[0];
  std::vector<float> a(4), b(3);
  EXPECT_FALSE(c.AllGather(a, b).ok());
  EXPECT_FALSE(c.ReduceScatterSum(b, a).ok());
  std::vector<int64_t> too_many = {5};
  EXPECT_FALSE(c.AllToAllV(a, too_many, b, std::vector<int64_t>{0}).ok());
  EXPECT_FALSE(c.AllToAllV(a, std::vector<int64_t>{1, 1}, b, std::vector<int64_t>{1}).ok());
  EXPECT_FALSE(c.Split(-1, 0).ok());
}

}  // namespace
}  // namespace dsv32
