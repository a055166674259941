// The vectorized matmul kernels behind MatMul, exposed for the tests and the
// benchmarks. Each runs on the best target Highway compiled for this CPU.
#pragma once

#include <cstdint>

#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

// How FP8 E4M3 codes become f32 inside the kernels. kBits rebuilds them as
// f16 with shifts and widens in hardware; kTable gathers from the 256-entry
// table. Both are exact; the benchmark compares their speed.
enum class Fp8Decode { kBits, kTable };

// Decode kernel: streams W once, each decoded weight used for every token of
// a group of up to eight. Best for a handful of tokens. Rows are split over
// the pool.
void MatVec(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
            Fp8Decode fp8_decode = Fp8Decode::kBits);

// Prefill kernel: dequantizes W tile by tile to f32 once and reuses each
// tile for every token with a register-blocked inner loop. Tiles of rows are
// split over the pool.
void MatMulTiled(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool);

// Above this many tokens MatMul uses MatMulTiled. Measured: MatVec's cost
// grows with every token while MatMulTiled pays for 32 tokens from the
// first; they cross at about 14.
inline constexpr int64_t kMatVecMaxTokens = 12;

// The target Highway dispatches to now, e.g. "AVX3" (for logs and benchmarks).
const char* ChosenKernelTarget();

}  // namespace dsv32
