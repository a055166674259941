#include <vector>

#include "core/thread_pool.h"
#include "quant/matrix.h"

namespace dsv32 {

// Splits the output rows over the pool; each worker dequantizes one row at a
// time and reuses it for every token.
void MatMul(const QuantMatrix& w, const float* x, int64_t tokens, float* y, ThreadPool* pool) {
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = begin; r < end; ++r) {
      DequantizeRow(w, r, row.data());
      for (int64_t m = 0; m < tokens; ++m) {
        const float* xm = x + m * w.cols;
        float acc = 0.0f;
        for (int64_t c = 0; c < w.cols; ++c) acc += row[static_cast<size_t>(c)] * xm[c];
        y[m * w.rows + r] = acc;
      }
    }
  };
  if (pool) {
    pool->ParallelFor(w.rows, 16, run);
  } else {
    run(0, w.rows);
  }
}

}  // namespace dsv32
