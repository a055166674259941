#include "attention/indexer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "attention/attention_kernels.h"
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

namespace {

// Scores of one query against index keys [0, visible) of `layer`, page by
// page: each page's keys are decoded once, transposed so that vector lanes
// run over keys, and every head reads them from L1/L2.
void ScoreKeys(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
               int64_t heads, float score_scale, int64_t page_begin, int64_t page_end,
               int64_t visible, float* scores) {
  const KvFieldFormat& f = cache.format().field(KvField::kIndexKey);
  const int64_t P = cache.page_tokens();
  std::vector<float> keys(static_cast<size_t>(P * f.dim)), keys_t(keys.size());
  for (int64_t page = page_begin; page < page_end; ++page) {
    const int64_t first = page * P;
    const int64_t rows = std::min(P, visible - first);
    KernelDecodeRows(f, cache.values(layer, first, KvField::kIndexKey),
                     cache.scales(layer, first, KvField::kIndexKey), rows, keys.data());
    Transpose(keys.data(), rows, f.dim, keys_t.data());
    KernelIndexScores(keys_t.data(), rows, f.dim, q, head_weights, heads, score_scale,
                      scores + first);
  }
}

}  // namespace

void IndexerScores(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
                   int64_t heads, int64_t visible, ThreadPool* pool, float* scores) {
  const float score_scale = 1.0f / std::sqrt(static_cast<float>(cache.index_dim()));
  const int64_t pages = (visible + cache.page_tokens() - 1) / cache.page_tokens();
  auto run = [&](int64_t begin, int64_t end) {
    ScoreKeys(cache, layer, q, head_weights, heads, score_scale, begin, end, visible, scores);
  };
  if (pool) {
    pool->ParallelFor(pages, 1, run);
  } else {
    run(0, pages);
  }
}

Status IndexerForward(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                      const float* x, const float* q_latent, KvCache* cache,
                      std::vector<std::vector<int32_t>>* selected) {
  const ModelConfig& c = *ctx.config;
  const int64_t T = ctx.tokens;
  const int64_t heads = w.weights_proj.rows;
  const int64_t dim = c.index_head_dim;
  const int64_t half_rope = c.qk_rope_head_dim / 2;

  std::vector<float> q(static_cast<size_t>(T * heads * dim));
  MatMul(w.wq_b, q_latent, T, q.data(), ctx.pool);
  std::vector<float> k(static_cast<size_t>(T * dim));
  MatMul(w.wk, x, T, k.data(), ctx.pool);
  std::vector<float> head_weights(static_cast<size_t>(T * heads));
  MatMul(w.weights_proj, x, T, head_weights.data(), ctx.pool);

  // The model's head count, not the share held: partial sums over a split
  // indexer add up to the whole indexer's scores.
  const float weight_scale = 1.0f / std::sqrt(static_cast<float>(c.index_n_heads));
  std::vector<float> key(static_cast<size_t>(dim));
  for (int64_t i = 0; i < T; ++i) {
    const float* cos = ctx.cos.data() + i * half_rope;
    const float* sin = ctx.sin.data() + i * half_rope;
    for (int64_t h = 0; h < heads; ++h) ctx.rope->ApplyHalf(&q[(i * heads + h) * dim], cos, sin);
    LayerNorm(&k[i * dim], w.k_norm_weight.data(), w.k_norm_bias.data(), dim, kIndexerNormEps,
              key.data());
    ctx.rope->ApplyHalf(key.data(), cos, sin);
    cache->StoreIndexKey(layer, ctx.first_position + i, key.data());
    for (int64_t h = 0; h < heads; ++h) head_weights[i * heads + h] *= weight_scale;
  }

  selected->assign(static_cast<size_t>(T), {});
  auto visible = [&](int64_t i) { return ctx.first_position + i + 1; };
  auto score = [&](int64_t i, ThreadPool* pool, float* scores) {
    IndexerScores(*cache, layer, &q[i * heads * dim], &head_weights[i * heads], heads, visible(i),
                  pool, scores);
  };
  auto select = [&](int64_t i, const float* scores) {
    (*selected)[static_cast<size_t>(i)] = TopKPositions(scores, visible(i), c.index_topk);
  };
  auto each_query = [&](const std::function<void(int64_t, int64_t)>& fn) {
    if (ctx.pool) return ctx.pool->ParallelFor(T, 1, fn);
    fn(0, T);
  };
  if (T == 1) {
    // Decode: the one query's scan is split over the pool by pages.
    std::vector<float> scores(static_cast<size_t>(visible(0)));
    score(0, ctx.pool, scores.data());
    if (ctx.reduce_index_scores) DSV32_RETURN_IF_ERROR(ctx.reduce_index_scores(scores));
    select(0, scores.data());
    return Status::Ok();
  }
  if (!ctx.reduce_index_scores) {
    // Prefill: queries are spread over the pool, each scanning its causal
    // prefix; a thread holds one query's scores at a time, never [T, L].
    each_query([&](int64_t begin, int64_t end) {
      std::vector<float> scores;
      for (int64_t i = begin; i < end; ++i) {
        scores.resize(static_cast<size_t>(visible(i)));
        score(i, nullptr, scores.data());
        select(i, scores.data());
      }
    });
    return Status::Ok();
  }
  // Prefill with partial scores: every query's causal prefix, back to back,
  // goes through the reduction at once, one collective per layer.
  std::vector<int64_t> offset(static_cast<size_t>(T + 1), 0);
  for (int64_t i = 0; i < T; ++i)
    offset[static_cast<size_t>(i + 1)] = offset[static_cast<size_t>(i)] + visible(i);
  std::vector<float> scores(static_cast<size_t>(offset.back()));
  each_query([&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      score(i, nullptr, &scores[static_cast<size_t>(offset[static_cast<size_t>(i)])]);
  });
  DSV32_RETURN_IF_ERROR(ctx.reduce_index_scores(scores));
  each_query([&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      select(i, &scores[static_cast<size_t>(offset[static_cast<size_t>(i)])]);
  });
  return Status::Ok();
}

}  // namespace dsv32
