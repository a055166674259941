#include "quant/kernels.h"
#include "quant/matrix.h"

namespace dsv32 {
namespace {

// FP8 on the bf16 dot kernel where it pays. Measured with kernels_bench on
// AMD EPYC family 25, where the f32 path is bound by its decode (17 GB/s
// with the weights in L2, below the read bandwidth):
// - The fast mode rounds the activations and takes it at every token count.
//   With the next rows requested in memory order (GemvStreamPrefetch) it
//   streams one token at 18-22 GB/s on one thread against 14-17 on the f32
//   path; before that change its long rows streamed slower, and one or two
//   tokens kept the f32 path on rows over 4 KiB.
// - The default mode takes the split form (three bf16 parts, products exact,
//   f32 sums as the f32 path) for one token only: 26 GB/s in L2, from
//   memory 16-21 GB/s on one thread against 13-16 and level or ahead on
//   two; at two tokens level, from four on behind (its three dot products
//   per pair of weights and token outweigh the decode it saves).
// Without the bf16 dot product both modes take the f32 path, with the
// f32-bits decode where that is the faster one (gemv.cc): on AMD EPYC family
// 25 model 1 (Zen 3, AVX2) it decoded at 17-19 GB/s in L2 against 10-11, and
// from memory streamed a median 1.28x faster over the decode shapes.
Fp8Decode DecodeFor(const QuantMatrix& w, int64_t tokens) {
  if (w.format != WeightFormat::kFp8Block) return Fp8Decode::kBits;
  if (!Bf16DotAvailable()) return Fp8F32BitsPays() ? Fp8Decode::kF32Bits : Fp8Decode::kBits;
  if (w.bf16_activations) return Fp8Decode::kBf16Dot;
  return tokens == 1 ? Fp8Decode::kBf16Split : Fp8Decode::kBits;
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
