#include "machine_peak.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "machine_peak.cc"
#include "hwy/aligned_allocator.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Four independent sums so the adds never wait on each other. With
// `prefetch`, each line is also requested into L2 kReadAheadBytes before it
// is read: one core of an AMD EPYC (family 25) streamed 24-25 GB/s that way
// against 21-23 on its hardware prefetchers alone, so the reference the
// kernels are read against is the better of the two.
constexpr size_t kReadAheadBytes = 4096;

float ReadSum(const float* p, size_t n, bool prefetch) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto a = hn::Zero(d), b = a, c = a, e = a;
  constexpr size_t kAheadFloats = kReadAheadBytes / sizeof(float);
  for (size_t i = 0; i + 4 * lanes <= n; i += 4 * lanes) {
    if (prefetch) {
      // Lines past the end are not read; a request there is harmless.
      for (size_t line = 0; line < 4 * lanes * sizeof(float); line += 64) {
        __builtin_prefetch(reinterpret_cast<const char*>(p + i + kAheadFloats) + line, 0, 2);
      }
    }
    a = hn::Add(a, hn::Load(d, p + i));
    b = hn::Add(b, hn::Load(d, p + i + lanes));
    c = hn::Add(c, hn::Load(d, p + i + 2 * lanes));
    e = hn::Add(e, hn::Load(d, p + i + 3 * lanes));
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a, b), hn::Add(c, e))));
}

// Twelve chains cover 4-cycle latency on two FMA ports. Returns the flops.
double FmaLoop(size_t iterations, float seed, float* sink) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f), k = hn::Set(d, 1e-7f);
  hn::Vec<decltype(d)> v[12];
  for (int i = 0; i < 12; ++i) v[i] = hn::Set(d, seed + static_cast<float>(i));
  for (size_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 12; ++i) v[i] = hn::MulAdd(v[i], m, k);
  }
  auto s = v[0];
  for (int i = 1; i < 12; ++i) s = hn::Add(s, v[i]);
  *sink = hn::GetLane(s);
  return 2.0 * 12.0 * static_cast<double>(hn::Lanes(d)) * static_cast<double>(iterations);
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(ReadSum);
HWY_EXPORT(FmaLoop);

namespace {

// Runs fn(0..threads-1) on that many threads at once, three times; returns
// the shortest wall time in seconds.
double BestTimeOnThreads(int threads, const std::function<void(int)>& fn) {
  double best = 1e30;
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<std::thread> workers;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) workers.emplace_back(fn, t);
    for (auto& w : workers) w.join();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Bytes/s of `threads` threads summing disjoint parts of buffer[0, n), the
// better of the sums without and with software prefetch.
double ReadBandwidthOf(const float* buffer, size_t n, int threads) {
  const size_t per_thread = n / static_cast<size_t>(threads) / 1024 * 1024;
  std::vector<float> sums(static_cast<size_t>(threads));
  double seconds = 1e30;
  for (const bool prefetch : {false, true}) {
    seconds = std::min(seconds, BestTimeOnThreads(threads, [&](int t) {
                         sums[static_cast<size_t>(t)] = HWY_DYNAMIC_DISPATCH(ReadSum)(
                             buffer + static_cast<size_t>(t) * per_thread, per_thread, prefetch);
                       }));
  }
  return static_cast<double>(per_thread * static_cast<size_t>(threads) * sizeof(float)) / seconds;
}

}  // namespace

double MeasureReadBandwidth(int threads, size_t bytes) {
  ReadBandwidthProbe probe(bytes);
  return probe.Measure(threads);
}

ReadBandwidthProbe::ReadBandwidthProbe(size_t bytes)
    : floats_(bytes / sizeof(float)), buffer_(hwy::AllocateAligned<float>(floats_)) {
  std::memset(buffer_.get(), 0, floats_ * sizeof(float));
}

double ReadBandwidthProbe::Measure(int threads) {
  return ReadBandwidthOf(buffer_.get(), floats_, threads);
}

double MeasureFmaPeak(int threads) {
  const size_t iterations = 50'000'000;
  std::vector<double> flops(static_cast<size_t>(threads));
  std::vector<float> sinks(static_cast<size_t>(threads));
  const double seconds = BestTimeOnThreads(threads, [&](int t) {
    flops[static_cast<size_t>(t)] = HWY_DYNAMIC_DISPATCH(FmaLoop)(iterations, static_cast<float>(t),
                                                                  &sinks[static_cast<size_t>(t)]);
  });
  double total = 0.0;
  for (double f : flops) total += f;
  return total / seconds;
}

#if defined(__x86_64__)
// Twelve VDPBF16PS chains (32 multiply-adds, 64 flops each). Returns the
// flops; called only where the CPU has AVX-512 BF16.
__attribute__((target("avx512f,avx512bf16"))) double Bf16DotLoop(size_t iterations, float seed,
                                                                 float* sink) {
  __m512 v[12];
  for (int i = 0; i < 12; ++i) v[i] = _mm512_set1_ps(seed + static_cast<float>(i));
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80);  // 1.0
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x3380);  // 2^-24
  for (size_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 12; ++i) v[i] = _mm512_dpbf16_ps(v[i], a, b);
  }
  __m512 s = v[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, v[i]);
  *sink = _mm512_cvtss_f32(s);
  return 64.0 * 12.0 * static_cast<double>(iterations);
}
#endif

double MeasureBf16DotPeak(int threads) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512bf16")) return 0.0;
  const size_t iterations = 50'000'000;
  std::vector<double> flops(static_cast<size_t>(threads));
  std::vector<float> sinks(static_cast<size_t>(threads));
  const double seconds = BestTimeOnThreads(threads, [&](int t) {
    flops[static_cast<size_t>(t)] =
        Bf16DotLoop(iterations, static_cast<float>(t), &sinks[static_cast<size_t>(t)]);
  });
  double total = 0.0;
  for (double f : flops) total += f;
  return total / seconds;
#else
  (void)threads;
  return 0.0;
#endif
}

double MeasureFmaPeakPerCpuSecond() {
  double best = 0.0;
  for (int pass = 0; pass < 3; ++pass) {
    timespec a, b;
    float sink;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    const double flops = HWY_DYNAMIC_DISPATCH(FmaLoop)(50'000'000, 1.0f, &sink);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    const double seconds =
        static_cast<double>(b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
    best = std::max(best, flops / seconds);
  }
  return best;
}

double ProcessCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace dsv32
#endif  // HWY_ONCE
