// The vectorized matmul kernels behind MatMul, exposed for the tests and the
// benchmarks. Each runs on the best target Highway compiled for this CPU.
#pragma once

#include <cstdint>

#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

// How FP8 E4M3 codes are multiplied inside the kernels. kBits rebuilds them
// as f16 with shifts and widens in hardware; kTable gathers from the
// 256-entry table. Both are exact against f32 activations; the benchmark
// compares their speed. kBf16Dot looks the codes up as bf16 (exact too) and
// multiplies them into the block-scaled activations rounded to bf16 with bf16
// dot products, f32 sums (MatVecFp8Bf16); kBf16Split does the same against
// the activations split into three bf16 parts that add up to them exactly,
// so it rounds only its f32 sums, as kBits does. Where the CPU has no bf16
// dot product both are kBits. kF32Bits rebuilds the codes as f32 with
// integer shifts alone, four codes to each 32-bit lane, against activations
// rearranged to match (exact too); where it does not apply (MatVecFp8F32Bits)
// it is kBits.
enum class Fp8Decode { kBits, kTable, kBf16Dot, kBf16Split, kF32Bits };

// Whether kF32Bits is the faster exact FP8 decode on this CPU (AMD with the
// AVX2 target: Zen 2 and 3).
bool Fp8F32BitsPays();

// The kF32Bits path itself; false (and y untouched) where it does not apply:
// w is not FP8, its blocks are not a multiple of the decode's step wide (32
// columns on AVX2), the target has no vectors, or this thread flushes
// subnormal inputs. Blocks of rows whose scaled activations would overflow
// run on the kBits decode within it.
bool MatVecFp8F32Bits(const QuantMatrix& w, const float* x, int64_t tokens, float* y,
                      ThreadPool* pool);

// How the INT4 decode kernel multiplies. kInt8 rounds the activations to
// int8, one scale (max |x| / 127) per 32 columns, and sums nibble-times-int8
// products with integer dot instructions (AVX-512 VNNI, or PMADDUBSW on the
// other x86 targets): about half the instructions per weight byte of kF32,
// which decodes the nibbles to f32 against the exact activations. Rounding
// the activations adds an error far below INT4's own (docs/int4-format.md).
// Where the CPU or the group size has no int8 kernel, kInt8 runs kF32.
enum class Int4Dot { kInt8, kF32 };

// Decode kernel: streams W once from memory, each decoded weight used for
// every token of a group of up to four (further groups decode a chunk of
// rows again from cache). Best for a handful of tokens. Rows are split over
// the pool.
void MatVec(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
            Fp8Decode fp8_decode = Fp8Decode::kBits, Int4Dot int4_dot = Int4Dot::kInt8);

// Whether MatVec with Int4Dot::kInt8 rounds the activations for w on this
// CPU (w is INT4 with groups of 32 or 128 and the target has an int8 dot).
bool Int4DotRoundsActivations(const QuantMatrix& w);

// x [tokens, cols] as that int8 path sees it: rounded and scaled back.
void RoundActivationsToInt8(const float* x, int64_t tokens, int64_t cols, float* out);

// The int8 path itself; false (and y untouched) where it does not apply.
bool MatVecInt4Int8(const QuantMatrix& w, const float* x, int64_t tokens, float* y,
                    ThreadPool* pool);

// Whether this CPU runs the bf16 dot kernels (MatVecFp8Bf16 and
// MatMulTiled's GemmPrecision::kBf16): the AVX3_DL target and AVX-512 BF16
// (Sapphire Rapids, Zen 4 and later).
bool Bf16DotAvailable();

// The kBf16Dot path itself: y as MatVec gives it, except that x times each
// block scale is rounded to bf16 (nearest even) before it is multiplied;
// with `split`, the kBf16Split path, which rounds nothing but its sums.
// False (and y untouched) where it does not apply: no bf16 dot on this CPU,
// or w is not FP8 with blocks a multiple of 64 columns wide.
bool MatVecFp8Bf16(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
                   bool split = false);

// How MatMulTiled multiplies. kF32: weights dequantized to f32, FMAs.
// kBf16 (the fast mode's prefill): the dequantized weights (the FP8 value
// times its block scale, exact in bf16 when the scales are powers of two, as
// in the released checkpoints) and the activations rounded to bf16, two
// columns per VDPBF16PS, f32 sums; on CPUs without AVX-512 BF16 it is kF32.
enum class GemmPrecision { kF32, kBf16 };

// Prefill kernel: dequantizes W tile by tile to f32 once and reuses each
// tile for every token with a register-blocked inner loop. Tiles of rows are
// split over the pool.
void MatMulTiled(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool,
                 GemmPrecision precision = GemmPrecision::kF32);

// Rows [row0, row0 + count) of w in f32, [count, cols]: the values
// DequantizeRow gives, vectorized (several GB/s of FP8 where DequantizeRow
// is a scalar reference).
void DequantizeRows(const QuantMatrix& w, int64_t row0, int64_t count, float* out);

// y[0, cols) = W^T x for x[0, rows): the transposed product of one vector,
// the weights read once in blocks of rows (for MLA's absorbed decode, where
// each head multiplies by its slice of kv_b_proj transposed). FP8 takes
// kF32Bits where it applies (rows and blocks of whole 32-column steps on
// AVX2, a thread that keeps subnormals, x times the scales far from
// overflow), else kBits; other decodes are kBits.
void MatVecTransposed(const QuantMatrix& w, const float* x, float* y,
                      Fp8Decode fp8_decode = Fp8Decode::kBits);

// Above this many tokens MatMul uses MatMulTiled. MatVec's cost grows with
// every token while MatMulTiled pays for 32 tokens from the first. Measured
// on FP8 2048 x 7168 from memory, two threads (Zen 5), ms per call, MatVec
// against MatMulTiled: 12 tokens 1.5 / 3.9, 24 tokens 3.0 / 3.9, 32 tokens
// 4.4 / 4.3, 48 tokens 5.8 / 5.9, 64 8.9 / 6.4; the bf16 kernels of the
// fast mode alike (24: 2.5 / 3.3, 32: 3.6 / 3.5), BF16 (24: 3.5 / 4.8, 32:
// 4.6 / 5.0) and INT4 with groups of 32 (24: 2.6 / 4.2, 32: 3.7 / 4.6).
inline constexpr int64_t kMatVecMaxTokens = 24;

// The target Highway dispatches to now, e.g. "AVX3" (for logs and benchmarks).
const char* ChosenKernelTarget();

}  // namespace dsv32
