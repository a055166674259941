#include "moe/mlp.h"

#include <vector>

#include "core/ops.h"

namespace dsv32 {

void MlpForward(const MlpWeights& w, const float* x, int64_t tokens, float* out, ThreadPool* pool) {
  const int64_t inter = w.gate_proj.rows;
  std::vector<float> gate(static_cast<size_t>(tokens * inter));
  std::vector<float> up(static_cast<size_t>(tokens * inter));
  MatMul(w.gate_proj, x, tokens, gate.data(), pool);
  MatMul(w.up_proj, x, tokens, up.data(), pool);
  SiluMul(gate.data(), up.data(), tokens * inter);
  MatMul(w.down_proj, gate.data(), tokens, out, pool);
}

}  // namespace dsv32
