#include "attention/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/ops.h"
#include "core/thread_pool.h"

namespace dsv32 {

namespace {
// nn.LayerNorm(index_head_dim, eps=1e-6) in the reference.
constexpr double kIndexerNormEps = 1e-6;
}  // namespace

std::vector<int32_t> TopKPositions(const float* scores, int64_t count, int64_t k) {
  std::vector<int32_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  if (count > k) {
    auto better = [scores](int32_t a, int32_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    };
    std::nth_element(order.begin(), order.begin() + k, order.end(), better);
    order.resize(static_cast<size_t>(k));
    std::sort(order.begin(), order.end());
  }
  return order;
}

IndexerProjection IndexerProject(const ModelConfig& c, const IndexerWeights& w, const float* x,
                                 const float* q_latent, int64_t tokens, ThreadPool* pool) {
  IndexerProjection p;
  p.q.resize(static_cast<size_t>(tokens * c.index_n_heads * c.index_head_dim));
  MatMul(w.wq_b, q_latent, tokens, p.q.data(), pool);
  p.k.resize(static_cast<size_t>(tokens * c.index_head_dim));
  MatMul(w.wk, x, tokens, p.k.data(), pool);
  p.head_weights.resize(static_cast<size_t>(tokens * c.index_n_heads));
  MatMul(w.weights_proj, x, tokens, p.head_weights.data(), pool);
  return p;
}

void IndexerForward(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                    const float* x, const float* q_latent, KvCache* cache,
                    std::vector<std::vector<int32_t>>* selected) {
  IndexerProjection proj = IndexerProject(*ctx.config, w, x, q_latent, ctx.tokens, ctx.pool);
  IndexerSelect(ctx, w, layer, proj, 0, cache, selected);
}

void IndexerSelect(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                   IndexerProjection& proj, int64_t first_row, KvCache* cache,
                   std::vector<std::vector<int32_t>>* selected) {
  const ModelConfig& c = *ctx.config;
  const int64_t T = ctx.tokens;
  const int64_t heads = c.index_n_heads;
  const int64_t dim = c.index_head_dim;
  const int64_t half_rope = c.qk_rope_head_dim / 2;
  float* q = &proj.q[static_cast<size_t>(first_row * heads * dim)];
  float* k = &proj.k[static_cast<size_t>(first_row * dim)];
  float* head_weights = &proj.head_weights[static_cast<size_t>(first_row * heads)];

  const float weight_scale = 1.0f / std::sqrt(static_cast<float>(heads));
  for (int64_t i = 0; i < T; ++i) {
    const float* cos = ctx.cos.data() + i * half_rope;
    const float* sin = ctx.sin.data() + i * half_rope;
    for (int64_t h = 0; h < heads; ++h) ctx.rope->ApplyHalf(&q[(i * heads + h) * dim], cos, sin);
    float* key = cache->index_key(layer, ctx.first_position + i);
    LayerNorm(&k[i * dim], w.k_norm_weight.data(), w.k_norm_bias.data(), dim, kIndexerNormEps, key);
    ctx.rope->ApplyHalf(key, cos, sin);
    for (int64_t h = 0; h < heads; ++h) head_weights[i * heads + h] *= weight_scale;
  }

  const float score_scale = 1.0f / std::sqrt(static_cast<float>(dim));
  selected->assign(static_cast<size_t>(T), {});
  auto run = [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t visible = ctx.first_position + i + 1;
      scores.assign(static_cast<size_t>(visible), 0.0f);
      for (int64_t t = 0; t < visible; ++t) {
        const float* key = cache->index_key(layer, t);
        float s = 0.0f;
        for (int64_t h = 0; h < heads; ++h) {
          const float dot = Dot(&q[(i * heads + h) * dim], key, dim) * score_scale;
          if (dot > 0.0f) s += head_weights[i * heads + h] * dot;
        }
        scores[static_cast<size_t>(t)] = s;
      }
      (*selected)[static_cast<size_t>(i)] = TopKPositions(scores.data(), visible, c.index_topk);
    }
  };
  if (ctx.pool) {
    ctx.pool->ParallelFor(T, 1, run);
  } else {
    run(0, T);
  }
}

}  // namespace dsv32
