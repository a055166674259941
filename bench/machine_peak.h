// What this machine can do at best, measured in the same run as the kernels
// so their numbers can be read as a fraction of it.
#pragma once

#include <cstddef>

#include "hwy/aligned_allocator.h"

namespace dsv32 {

// Streaming read bandwidth in bytes/s: `threads` threads summing disjoint
// parts of a buffer of `bytes` (far larger than the last-level cache). Best
// of a few passes, with and without software prefetch.
double MeasureReadBandwidth(int threads, std::size_t bytes);

// The read bandwidth again, on a buffer kept between calls, for a figure
// taken right next to a kernel's: on a shared machine the bandwidth drifts by
// tens of percent over a run, so a kernel is best compared with what memory
// gave at about the same moment.
class ReadBandwidthProbe {
 public:
  // Allocates the buffer and touches every page, so the passes read and
  // never fault.
  explicit ReadBandwidthProbe(std::size_t bytes);
  // Bytes/s of `threads` threads, as MeasureReadBandwidth.
  double Measure(int threads);

 private:
  std::size_t floats_;
  hwy::AlignedFreeUniquePtr<float[]> buffer_;
};

// f32 FMA throughput in flop/s (an FMA is 2 flops) of `threads` threads
// running independent FMA chains on the widest vectors Highway picks.
double MeasureFmaPeak(int threads);

// bf16 dot-product throughput in flop/s (VDPBF16PS: 32 multiply-adds, 64
// flops), measured like MeasureFmaPeak; 0 where the CPU has no AVX-512 BF16.
double MeasureBf16DotPeak(int threads);

// The same FMA chains on one thread, in flops per second of that thread's
// CPU time: what one core gives while it runs, which other processes on a
// shared machine change far less than the wall-clock figures.
double MeasureFmaPeakPerCpuSecond();

// CPU time of the whole process (every thread) in seconds.
double ProcessCpuSeconds();

}  // namespace dsv32
