#include "quant/kernels.h"
#include "quant/matrix.h"

namespace dsv32 {
namespace {

// In the fast mode, FP8 rows of at most this many bytes take the bf16 dot
// path at one or two tokens. Measured (kernels_bench, one thread, Zen 5):
// q_b_proj's 1536-byte rows and kv_b_proj's 512 level to 10% faster than the
// f32 path, down_proj's 2048 level, but the 7168- and 16384-byte rows of
// gate/up_proj and o_proj 15-20% slower (21-23 GB/s against 25-27), although
// in L2 the bf16 path decodes twice as fast (65-69 GB/s against 32). From
// three tokens on it is faster on every shape measured (two threads: 4
// tokens 30 GB/s against 17-29, 8 tokens 12-17 against 7.6-7.9).
constexpr int64_t kBf16DotMaxRowBytesFewTokens = 4096;

Fp8Decode DecodeFor(const QuantMatrix& w, int64_t tokens) {
  if (!w.bf16_activations || w.format != WeightFormat::kFp8Block) return Fp8Decode::kBits;
  if (tokens <= 2 && w.cols > kBf16DotMaxRowBytesFewTokens) return Fp8Decode::kBits;
  return Fp8Decode::kBf16Dot;
}

}  // namespace

// The streaming kernel for decode, the tiled one once there are enough tokens
// to pay for dequantizing each tile to f32.
void MatMul(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool) {
  if (tokens <= kMatVecMaxTokens) {
    MatVec(w, x, tokens, y, pool, DecodeFor(w, tokens));
  } else {
    MatMulTiled(w, x, tokens, y, pool,
                w.bf16_activations ? GemmPrecision::kBf16 : GemmPrecision::kF32);
  }
}

}  // namespace dsv32
