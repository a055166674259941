// The inner loops of attention over the cache, vectorized with Highway and
// dispatched to the best target the CPU supports. Each has a scalar
// reference (core/ops.h's Dot and Axpy, DecodeKvField) that the tests
// compare against on every compiled target.
#pragma once

#include <cstdint>

#include "attention/kv_format.h"

namespace dsv32 {

// sum a[i] * b[i]
float KernelDot(const float* a, const float* b, int64_t n);
// y += a * x
void KernelAxpy(float a, const float* x, float* y, int64_t n);
// y *= a
void KernelScale(float a, float* y, int64_t n);
// out[r] = dot(rows[r * stride .. + n], x) for r in [0, count)
void KernelDotRows(const float* rows, int64_t stride, int64_t count, const float* x, int64_t n,
                   float* out);
// out[r] = q . key_r for keys stored transposed (keys_t is [dim, rows]).
void KernelDotTransposed(const float* keys_t, int64_t rows, int64_t dim, const float* q,
                         float* out);
// acc[0..n) += sum_r p[r] * rows[r * stride .. + n): the weighted sum of a
// block of rows, with acc kept in registers across the rows.
void KernelWeightedSum(const float* p, const float* rows, int64_t count, int64_t stride, int64_t n,
                       float* acc);

// Transposes a [rows, dim] block into [dim, rows].
void Transpose(const float* in, int64_t rows, int64_t dim, float* out);

// Decodes `rows` consecutive entries of one field (a plane in a page) to
// f32: dst is [rows, f.dim].
void KernelDecodeRows(const KvFieldFormat& f, const uint8_t* values, const uint8_t* scales,
                      int64_t rows, float* dst);

}  // namespace dsv32
