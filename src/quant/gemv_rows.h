// What the GEMV kernels (gemv.cc, gemv_int8.cc, gemv_bf16dot.cc) share: how
// their rows are split over the threads and how their weights are requested.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace dsv32 {

// Rows go to threads, and through the kernels, in chunks of this many.
inline constexpr int64_t kGemvRowChunk = 16;

// Blocks of rows of at most this many bytes have the next block requested
// into L1, larger ones into L2 only (GemvStreamPrefetch).
inline constexpr int64_t kGemvL1PrefetchBlockBytes = 4096;

// Requests a thread's weights in memory order, one block of rows ahead of
// the block a kernel is reading. The kernels read a block's rows side by
// side, a step of each row at a time; requests for the same columns of the
// rows further on made as many interleaved streams, which on one core of an
// AMD EPYC (Zen 4) streamed at 10-13 GB/s against 22-27 in memory order
// (rows of 0.5-4 KiB; read-sum 24 GB/s). Requested into L1, a next block
// larger than kGemvL1PrefetchBlockBytes waits there too long beside the
// current one and the activations; those go to L2.
class GemvStreamPrefetch {
 public:
  // The kernel reads rows [r0, r0 + block_rows) of a matrix of `rows` rows
  // of `row_bytes` each from `data`, in `steps` steps; requests stop at the
  // matrix's end.
  GemvStreamPrefetch(const void* data, int64_t row_bytes, int64_t rows, int64_t r0,
                     int64_t block_rows, int64_t steps)
      : next_(static_cast<const char*>(data) + (r0 + block_rows) * row_bytes),
        target_(next_),
        end_(static_cast<const char*>(data) + rows * row_bytes),
        per_step_(steps > 0 ? (block_rows * row_bytes + steps - 1) / steps
                            : block_rows * row_bytes),
        to_l1_(block_rows * row_bytes <= kGemvL1PrefetchBlockBytes) {}

  // Called once per step: requests the lines of the next block that keep it
  // as far ahead of the current block's reads.
  void Step() {
    target_ += per_step_;
    for (; next_ < target_ && next_ < end_; next_ += 64) {
      if (to_l1_) {
        __builtin_prefetch(next_, 0, 3);
      } else {
        __builtin_prefetch(next_, 0, 2);
      }
    }
  }

 private:
  const char* next_;
  const char* target_;
  const char* end_;
  int64_t per_step_;
  bool to_l1_;
};

// Whether this thread treats subnormal inputs as zero (MXCSR.DAZ, set by
// code built with -ffast-math among others), which would zero the subnormal
// codes that DecodeFp8F32Bits makes f32 subnormals.
inline bool FlushesSubnormalInputs() {
#if defined(__x86_64__) || defined(__i386__)
  return (_mm_getcsr() & 0x40) != 0;
#else
  return true;  // unknown: take the decode that never makes one
#endif
}

// Splits the rows over the pool's threads, each a contiguous range.
template <class Body>
void ForGemvRows(int64_t rows, ThreadPool* pool, const Body& body) {
  if (pool && pool->size() > 1) {
    pool->ParallelFor(rows, kGemvRowChunk, body);
  } else {
    body(0, rows);
  }
}

}  // namespace dsv32
