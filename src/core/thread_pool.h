// A fixed set of worker threads that run one parallel loop at a time. The
// calling thread takes a share of the work too, so a pool of size 1 runs
// everything inline with no threads at all. Between loops the workers spin
// for a short while before they sleep: a decode step calls the pool for
// every matmul, back to back, and a sleeping thread takes tens of
// microseconds to wake, which is a tenth of a small matmul.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv32 {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) split into at most size() contiguous
  // chunks whose boundaries are multiples of `grain`; returns when all ran.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> chunks_;
  // generation_ and stop_ change under mu_; spinning threads read them
  // without it.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_{0};  // workers waiting on start_cv_
  std::atomic<bool> stop_{false};
};

// Threads to use when the caller says 0: the cores this process may run on.
int DefaultThreadCount();

}  // namespace dsv32
