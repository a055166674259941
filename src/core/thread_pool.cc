#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dsv32 {
namespace {

// How long a thread spins for the next job (or for the workers to finish)
// before it sleeps. Long enough to bridge the serial work between two
// matmuls of a decode step, short enough that an idle pool costs nothing.
constexpr auto kSpinTime = std::chrono::microseconds(300);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Spins until `done` holds or the spin time is up; true if it holds.
template <class Done>
bool SpinUntil(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    // The clock is read once per 64 checks; a check is a load and a pause.
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  const int extra = std::max(1, num_threads) - 1;
  for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { WorkerLoop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int64_t parts = std::min<int64_t>(units, size());
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::pair<int64_t, int64_t>> chunks;
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t b = std::min(n, units * p / parts * grain);
    const int64_t e = std::min(n, units * (p + 1) / parts * grain);
    chunks.emplace_back(b, e);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    chunks_ = chunks;
    pending_.store(static_cast<int>(parts) - 1);
    generation_.fetch_add(1);
  }
  // A worker that went to sleep did so under mu_ before the job was
  // published, so it is counted here; one still spinning sees the new
  // generation by itself.
  if (sleeping_.load() > 0) start_cv_.notify_all();
  fn(chunks[0].first, chunks[0].second);
  if (!SpinUntil([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load() == 0; });
  }
  std::lock_guard<std::mutex> lock(mu_);
  job_ = nullptr;
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    SpinUntil([&] {
      return generation_.load(std::memory_order_acquire) != seen || stop_.load();
    });
    std::pair<int64_t, int64_t> chunk;
    const std::function<void(int64_t, int64_t)>* job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (generation_.load() == seen && !stop_.load()) {
        sleeping_.fetch_add(1);
        start_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        sleeping_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      if (index >= static_cast<int>(chunks_.size())) continue;
      chunk = chunks_[static_cast<size_t>(index)];
      job = job_;
    }
    (*job)(chunk.first, chunk.second);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep on done_cv_; taking mu_ orders this
      // notification after its last check of pending_.
      { std::lock_guard<std::mutex> lock(mu_); }
      done_cv_.notify_one();
    }
  }
}

int DefaultThreadCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dsv32
