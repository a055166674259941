// AttendCausalHead against a plain two-pass softmax in double, on every
// target this build compiled and this CPU runs: ragged head sizes, short
// blocks of queries, and caches longer than one chunk of positions (512).
#include "attention/causal_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy_targets.h"

namespace dsv32 {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

struct Sizes {
  int64_t nope, rope, v_dim, tokens, first_position, heads;
};

// Heads are interleaved as in MLA's buffers: q [tokens, heads, nope + rope],
// kv [positions, heads, nope + v_dim], rope keys [positions, rope], out
// [tokens, heads, v_dim]; head 1 of `heads` is the one computed.
void ExpectMatchesSoftmax(const Sizes& z) {
  const int64_t dim = z.nope + z.rope, kv_width = z.nope + z.v_dim;
  const int64_t L = z.first_position + z.tokens;
  const auto q = Random(static_cast<size_t>(z.tokens * z.heads * dim), 1);
  const auto kv = Random(static_cast<size_t>(L * z.heads * kv_width), 2);
  const auto rope = Random(static_cast<size_t>(L * z.rope), 3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  const int64_t h = 1;
  std::vector<float> out(static_cast<size_t>(z.tokens * z.heads * z.v_dim), -7.0f);
  CausalHead head;
  head.q = q.data() + h * dim;
  head.q_stride = z.heads * dim;
  head.k_nope = kv.data() + h * kv_width;
  head.v = head.k_nope + z.nope;
  head.kv_stride = z.heads * kv_width;
  head.k_rope = rope.data();
  head.nope = z.nope;
  head.rope = z.rope;
  head.v_dim = z.v_dim;
  head.tokens = z.tokens;
  head.first_position = z.first_position;
  head.scale = scale;
  head.out = out.data() + h * z.v_dim;
  head.out_stride = z.heads * z.v_dim;
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
