// AttendCausalHead against a plain two-pass softmax in double, on every
// target this build compiled and this CPU runs: ragged head sizes, short
// blocks of queries, and caches longer than one chunk of positions (512).
#include "attention/causal_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy_targets.h"
#include "quant/test_matrices.h"

namespace dsv32 {
namespace {

struct Sizes {
  int64_t nope, rope, v_dim, tokens, first_position, heads;
};

// Heads are interleaved as in MLA's buffers: q [tokens, heads, nope + rope],
// kv [positions, heads, nope + v_dim], rope keys [positions, rope], out
// [tokens, heads, v_dim]; head 1 of `heads` is the one computed.
void ExpectMatchesSoftmax(const Sizes& z) {
  const int64_t dim = z.nope + z.rope, kv_width = z.nope + z.v_dim;
  const int64_t L = z.first_position + z.tokens;
  std::mt19937 rng(1);
  const auto q = RandomVector(z.tokens * z.heads * dim, rng);
  const auto kv = RandomVector(L * z.heads * kv_width, rng);
  const auto rope = RandomVector(L * z.rope, rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  const int64_t h = 1;
  std::vector<float> out(static_cast<size_t>(z.tokens * z.heads * z.v_dim), -7.0f);
  const MlaBuffers buffers{q.data(), kv.data(), rope.data(), out.data(),
                           z.heads,  z.nope,    z.rope,      z.v_dim};
  const CausalHead head = MlaCausalHead(buffers, h, z.tokens, z.first_position, scale);
  AttendCausalHead(head);

  for (int64_t i = 0; i < z.tokens; ++i) {
    const int64_t n = z.first_position + i + 1;
    const float* qi = head.q + i * head.q_stride;
    std::vector<double> score(static_cast<size_t>(n));
    double max = -1e300;
    for (int64_t t = 0; t < n; ++t) {
      double s = 0.0;
      for (int64_t d = 0; d < z.nope; ++d) s += double{qi[d]} * head.k_nope[t * head.kv_stride + d];
      for (int64_t d = 0; d < z.rope; ++d) s += double{qi[z.nope + d]} * rope[t * z.rope + d];
      score[static_cast<size_t>(t)] = s * scale;
      max = std::max(max, s * scale);
    }
    double sum = 0.0;
    for (double& s : score) sum += (s = std::exp(s - max));
    for (int64_t d = 0; d < z.v_dim; ++d) {
      double want = 0.0;
      for (int64_t t = 0; t < n; ++t)
        want += score[static_cast<size_t>(t)] * head.v[t * head.kv_stride + d];
      want /= sum;
      ASSERT_NEAR(head.out[i * head.out_stride + d], want, 2e-5)
          << "token " << i << " dim " << d << " of " << z.tokens << " after " << z.first_position;
    }
  }
  // The other heads' outputs are not touched.
  for (int64_t i = 0; i < z.tokens; ++i)
    for (int64_t d = 0; d < z.v_dim; ++d)
      ASSERT_EQ(out[static_cast<size_t>(i * z.heads * z.v_dim + d)], -7.0f);
}

TEST(CausalAttentionTest, MatchesSoftmaxOnEveryTarget) {
  testing::ForEachHwyTarget([] {
    // MLA's sizes, then ragged ones whose lengths fill no vector.
    for (const Sizes& z :
         {Sizes{128, 64, 128, 13, 0, 2}, Sizes{7, 5, 9, 1, 0, 3}, Sizes{7, 5, 9, 20, 3, 3},
          Sizes{16, 8, 33, 6, 0, 2}, Sizes{3, 2, 17, 11, 600, 2}, Sizes{32, 16, 32, 70, 500, 2}}) {
      ExpectMatchesSoftmax(z);
    }
  });
}

}  // namespace
}  // namespace dsv32
