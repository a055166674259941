#include "model/batched_head.h"

#include <algorithm>

#include "core/ops.h"

namespace dsv32 {

void BatchedHeadLogits(std::span<const HeadRows> seqs, const float* h, int64_t hidden,
                       const std::vector<float>& norm, float eps, const QuantMatrix& head,
                       ThreadPool* pool) {
  const int64_t H = hidden;
  const int64_t vocab = head.rows;
  std::vector<float> normed;
  std::vector<float*> outputs;  // where each normed row's logits go
  int64_t row = 0;
  for (const HeadRows& s : seqs) {
    row += s.rows;
    if (!s.logits) continue;
    const int64_t wanted = s.all ? s.rows : 1;
    for (int64_t i = 0; i < wanted; ++i) {
      normed.resize(normed.size() + static_cast<size_t>(H));
      RmsNorm(&h[(row - wanted + i) * H], norm.data(), H, eps,
              &normed[normed.size() - static_cast<size_t>(H)]);
      outputs.push_back(s.logits + i * vocab);
    }
  }
  if (outputs.empty()) return;
  const auto rows = static_cast<int64_t>(outputs.size());
  std::vector<float> logits(static_cast<size_t>(rows * vocab));
  MatMul(head, normed.data(), rows, logits.data(), pool);
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(&logits[static_cast<size_t>(r * vocab)], vocab, outputs[static_cast<size_t>(r)]);
}

}  // namespace dsv32
