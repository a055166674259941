// The end of a batched pass over several sequences (Model::ForwardBatch,
// Model::ForwardMtpBatch): the rows someone wants logits for, normed and
// through the output head in one matmul.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

// One sequence's rows of the pass, in the pass's order.
struct HeadRows {
  int64_t rows = 0;
  float* logits = nullptr;  // null: no logits wanted
  bool all = false;         // [rows, vocab] logits, else [vocab] of the last row
};

// h: [sum of rows, hidden], the residual stream after the last layer.
void BatchedHeadLogits(std::span<const HeadRows> seqs, const float* h, int64_t hidden,
                       const std::vector<float>& norm, float eps, const QuantMatrix& head,
                       ThreadPool* pool);

}  // namespace dsv32
