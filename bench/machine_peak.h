// What this machine can do at best, measured in the same run as the kernels
// so their numbers can be read as a fraction of it.
#pragma once

#include <cstddef>

namespace dsv32 {

// Streaming read bandwidth in bytes/s: `threads` threads summing disjoint
// parts of a buffer of `bytes` (far larger than the last-level cache). Best
// of a few passes.
double MeasureReadBandwidth(int threads, std::size_t bytes);

// f32 FMA throughput in flop/s (an FMA is 2 flops) of `threads` threads
// running independent FMA chains on the widest vectors Highway picks.
double MeasureFmaPeak(int threads);

}  // namespace dsv32
