// ThreadPool: every index runs exactly once per loop, whether the workers
// are still spinning from the last loop or have gone to sleep.
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace dsv32 {
namespace {

// Runs a loop over n indices and checks that each ran once, in chunks whose
// boundaries are multiples of the grain, no more chunks than threads.
void ExpectEachIndexOnce(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<int> calls{0};
  pool.ParallelFor(n, grain, [&](int64_t begin, int64_t end) {
    ++calls;
    EXPECT_EQ(begin % grain, 0);
    EXPECT_TRUE(end == n || end % grain == 0);
    for (int64_t i = begin; i < end; ++i) ++hits[static_cast<size_t>(i)];
  });
  EXPECT_LE(calls.load(), pool.size());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
}

TEST(ThreadPoolTest, BackToBackLoopsRunEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 1000; ++round) {
      ExpectEachIndexOnce(pool, 1 + round % 97, 1 + round % 5);
    }
  }
}

TEST(ThreadPoolTest, LoopsAfterTheWorkersSleptRunEveryIndexOnce) {
  ThreadPool pool(3);
  for (int round = 0; round < 5; ++round) {
    // Longer than the workers spin, so each loop wakes sleeping threads.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ExpectEachIndexOnce(pool, 1000, 16);
  }
}

TEST(ThreadPoolTest, WaitsForASlowWorker) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  pool.ParallelFor(2, 1, [&](int64_t begin, int64_t) {
    // The caller runs chunk 0; the worker's chunk outlasts every spin.
    if (begin == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++done;
  });
  EXPECT_EQ(done.load(), 2);
}

TEST(ThreadPoolTest, EmptyLoopAndIdleDestruction) {
  ThreadPool pool(2);
  bool ran = false;
  pool.ParallelFor(0, 1, [&](int64_t, int64_t) { ran = true; });
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace dsv32
