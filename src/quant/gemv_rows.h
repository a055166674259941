// What the GEMV kernels (gemv.cc, gemv_int8.cc) share: how their rows are
// split over the threads and how far ahead each row's weights are requested.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace dsv32 {

// Rows go to threads, and through the kernels, in chunks of this many.
inline constexpr int64_t kGemvRowChunk = 16;

// The one- and two-token kernels request each row's weights this many bytes
// of the thread's stream ahead (at least the next block of rows): short rows
// need several rows of lead for the data to arrive in time, and hardware
// prefetchers alone follow four interleaved short rows poorly.
inline constexpr int64_t kGemvPrefetchBytes = 8192;

// Rows of `row_bytes` that make kGemvPrefetchBytes, rounded up.
inline int64_t GemvPrefetchRows(int64_t row_bytes) {
  return (kGemvPrefetchBytes + row_bytes - 1) / row_bytes;
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
