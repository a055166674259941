// The SwiGLU feed-forward block used by dense layers, shared experts and
// every routed expert: down(silu(gate(x)) * up(x)).
#pragma once

#include <cstdint>

#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

struct MlpWeights {
  QuantMatrix gate_proj;  // [intermediate, hidden]
  QuantMatrix up_proj;    // [intermediate, hidden]
  QuantMatrix down_proj;  // [hidden, intermediate]
};

// x [tokens, hidden] -> out [tokens, hidden].
void MlpForward(const MlpWeights& w, const float* x, int64_t tokens, float* out, ThreadPool* pool);

}  // namespace dsv32
