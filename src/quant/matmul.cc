#include "quant/kernels.h"
#include "quant/matrix.h"

namespace dsv32 {

// The streaming kernel for decode, the tiled one once there are enough tokens
// to pay for dequantizing each tile to f32.
void MatMul(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool) {
  if (tokens <= kMatVecMaxTokens) {
    MatVec(w, x, tokens, y, pool);
  } else {
    MatMulTiled(w, x, tokens, y, pool);
  }
}

}  // namespace dsv32
