#include "attention/indexer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "attention/index_kernels.h"
#include "core/ops.h"
#include "core/thread_pool.h"

namespace dsv32 {

namespace {
// nn.LayerNorm(index_head_dim, eps=1e-6) in the reference.
constexpr double kIndexerNormEps = 1e-6;
}  // namespace

std::vector<int32_t> TopKPositions(const float* scores, int64_t count, int64_t k) {
  std::vector<int32_t> picked;
  if (count <= k) {
    picked.resize(static_cast<size_t>(count));
    std::iota(picked.begin(), picked.end(), 0);
    return picked;
  }
  if (k <= 0) return picked;
  // The k-th largest score by a partial selection over a copy of the
  // values, then one pass in position order: everything above it, and as
  // many equal to it as still fit, lowest positions first.
  std::vector<float> values(scores, scores + count);
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
  const float threshold = values[static_cast<size_t>(k - 1)];
  int64_t above = 0;
  for (int64_t t = 0; t < count; ++t) above += scores[t] > threshold;
  int64_t ties = k - above;
  picked.reserve(static_cast<size_t>(k));
  for (int64_t t = 0; t < count; ++t) {
    if (scores[t] > threshold || (scores[t] == threshold && ties-- > 0))
      picked.push_back(static_cast<int32_t>(t));
  }
  return picked;
}

namespace {

float ScoreScale(const KvCache& cache) {
  return 1.0f / std::sqrt(static_cast<float>(cache.index_dim()));
}

IndexQuery MakeQuery(const KvCache& cache, const float* q, const float* head_weights, int64_t heads,
                     IndexPrecision precision) {
  return IndexQuery(q, head_weights, heads, cache.index_dim(), ScoreScale(cache), precision);
}

// Scores of one query against index keys of pages [page_begin, page_end),
// one page at a time (read in place where the layout allows).
void ScorePages(const KvCache& cache, int64_t layer, const IndexQuery& query, int64_t page_begin,
                int64_t page_end, int64_t visible, float* scores) {
  const KvFieldFormat& f = cache.format().field(KvField::kIndexKey);
  const int64_t P = cache.page_tokens();
  IndexKeyReader reader(f, query.precision, P);
  for (int64_t page = page_begin; page < page_end; ++page) {
    const int64_t first = page * P;
    reader.Clear();
    reader.Append(cache.values(layer, first, KvField::kIndexKey),
                  cache.scales(layer, first, KvField::kIndexKey), std::min(P, visible - first));
    KernelIndexScores(query, reader.keys(), scores + first);
  }
}

// Prefill's queries are scored in blocks of kQueryBlock against chunks of
// kKeyChunk keys (whole pages): each chunk is decoded once per block and stays in cache
// while every query of the block (its q in L1) scans it. A block holds
// kQueryBlock rows of scores, so memory is O(kQueryBlock x L) per thread.
constexpr int64_t kQueryBlock = 16;
constexpr int64_t kKeyChunk = 1024;

}  // namespace

void IndexerScores(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
                   int64_t heads, int64_t visible, ThreadPool* pool, float* scores) {
  IndexerScores(cache, layer, q, head_weights, heads, visible, IndexPrecision::kF32, pool, scores);
}

void IndexerScores(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
                   int64_t heads, int64_t visible, IndexPrecision precision, ThreadPool* pool,
                   float* scores) {
  const IndexQuery query = MakeQuery(cache, q, head_weights, heads, precision);
  const int64_t pages = (visible + cache.page_tokens() - 1) / cache.page_tokens();
  auto run = [&](int64_t begin, int64_t end) {
    ScorePages(cache, layer, query, begin, end, visible, scores);
  };
  if (pool) {
    pool->ParallelFor(pages, 1, run);
  } else {
    run(0, pages);
  }
}

void IndexerSelectCausal(const KvCache& cache, int64_t layer, const float* q,
                         const float* head_weights, int64_t heads, int64_t first_position,
                         int64_t tokens, int64_t topk, ThreadPool* pool,
                         std::vector<std::vector<int32_t>>* selected) {
  selected->assign(static_cast<size_t>(tokens), {});
  const int64_t dim = cache.index_dim();
  // Queries that see no more than topk positions take them all unscored.
  const int64_t first_scored = std::clamp<int64_t>(topk - first_position, 0, tokens);
  for (int64_t i = 0; i < first_scored; ++i)
    (*selected)[static_cast<size_t>(i)] = TopKPositions(nullptr, first_position + i + 1, topk);
  const int64_t blocks = (tokens - first_scored + kQueryBlock - 1) / kQueryBlock;
  const KvFieldFormat& f = cache.format().field(KvField::kIndexKey);
  const int64_t P = cache.page_tokens();
  const int64_t chunk = std::max(P, kKeyChunk / P * P);
  auto run = [&](int64_t begin, int64_t end) {
    IndexKeyReader reader(f, IndexPrecision::kF32, chunk);
    std::vector<float> scores;
    for (int64_t j = begin; j < end; ++j) {
      // Blocks alternate from both ends, so that each thread's contiguous
      // share mixes short and long prefixes.
      const int64_t b = j % 2 == 0 ? j / 2 : blocks - 1 - j / 2;
      const int64_t i0 = first_scored + b * kQueryBlock;
      const int64_t i1 = std::min(tokens, i0 + kQueryBlock);
      const int64_t longest = first_position + i1;
      scores.resize(static_cast<size_t>((i1 - i0) * longest));
      std::vector<IndexQuery> queries;
      for (int64_t i = i0; i < i1; ++i)
        queries.push_back(MakeQuery(cache, q + i * heads * dim, head_weights + i * heads, heads,
                                    IndexPrecision::kF32));
      for (int64_t c0 = 0; c0 < longest; c0 += chunk) {
        const int64_t c1 = std::min(longest, c0 + chunk);
        reader.Clear();
        for (int64_t first = c0; first < c1; first += P)
          reader.Append(cache.values(layer, first, KvField::kIndexKey),
                        cache.scales(layer, first, KvField::kIndexKey), std::min(P, c1 - first));
        const IndexKeys keys = reader.keys();
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t visible = first_position + i + 1;
          if (visible <= c0) continue;
          IndexKeys prefix = keys;
          prefix.rows = std::min(visible, c1) - c0;
          KernelIndexScores(queries[static_cast<size_t>(i - i0)], prefix,
                            scores.data() + (i - i0) * longest + c0);
        }
      }
      for (int64_t i = i0; i < i1; ++i)
        (*selected)[static_cast<size_t>(i)] =
            TopKPositions(scores.data() + (i - i0) * longest, first_position + i + 1, topk);
    }
  };
  if (pool) {
    pool->ParallelFor(blocks, 1, run);
  } else {
    run(0, blocks);
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

  if (!ctx.reduce_index_scores) {
    if (T == 1) {
      // Decode: the one query's scan is split over the pool by pages.
      selected->assign(1, {});
      const int64_t visible = ctx.first_position + 1;
      if (visible <= c.index_topk) {
        (*selected)[0] = TopKPositions(nullptr, visible, c.index_topk);
        return Status::Ok();
      }
      std::vector<float> scores(static_cast<size_t>(visible));
      IndexerScores(*cache, layer, q.data(), head_weights.data(), heads, visible, ctx.pool,
                    scores.data());
      (*selected)[0] = TopKPositions(scores.data(), visible, c.index_topk);
      return Status::Ok();
    }
    IndexerSelectCausal(*cache, layer, q.data(), head_weights.data(), heads, ctx.first_position, T,
                        c.index_topk, ctx.pool, selected);
    return Status::Ok();
  }

  // Partial scores (the heads are split over a mesh): every query's causal
  // prefix, back to back, goes through the reduction at once, one
  // collective per layer, on every rank alike.
  selected->assign(static_cast<size_t>(T), {});
  auto visible = [&](int64_t i) { return ctx.first_position + i + 1; };
  auto each_query = [&](const std::function<void(int64_t, int64_t)>& fn) {
    if (ctx.pool && T > 1) return ctx.pool->ParallelFor(T, 1, fn);
    fn(0, T);
  };
  std::vector<int64_t> offset(static_cast<size_t>(T + 1), 0);
  for (int64_t i = 0; i < T; ++i)
    offset[static_cast<size_t>(i + 1)] = offset[static_cast<size_t>(i)] + visible(i);
  std::vector<float> scores(static_cast<size_t>(offset.back()));
  if (T == 1) {
    IndexerScores(*cache, layer, q.data(), head_weights.data(), heads, visible(0), ctx.pool,
                  scores.data());
  } else {
    each_query([&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        IndexerScores(*cache, layer, &q[i * heads * dim], &head_weights[i * heads], heads,
                      visible(i), nullptr,
                      &scores[static_cast<size_t>(offset[static_cast<size_t>(i)])]);
    });
  }
  DSV32_RETURN_IF_ERROR(ctx.reduce_index_scores(scores));
  each_query([&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      (*selected)[static_cast<size_t>(i)] = TopKPositions(
          &scores[static_cast<size_t>(offset[static_cast<size_t>(i)])], visible(i), c.index_topk);
  });
  return Status::Ok();
}

}  // namespace dsv32
