// The DSA lightning indexer of DeepSeek-V3.2: a few cheap heads score every
// visible earlier token for each query, and attention then runs over the
// index_topk best only.
//
//   q = wq_b(q_latent)                     [index_n_heads, index_head_dim]
//   k = LayerNorm(wk(x))                   [index_head_dim], cached per token
//   RoPE (half-split) on the first qk_rope_head_dim dims of both
//   w = weights_proj(x) * index_n_heads^-0.5
//   score(s, t) = sum_h w[h] * ReLU(q[h] . k[t]) * index_head_dim^-0.5
//
// DeepSeek's kernels also rotate q and k by a Hadamard matrix and quantize
// them to FP8; the rotation is orthogonal and leaves the scores unchanged,
// so the reference path leaves it out.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/attention_context.h"
#include "attention/index_kernels.h"
#include "attention/kv_cache.h"
#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

// The heads held are weights_proj's rows: all index_n_heads of them on one
// device, a TP rank's share of them on a mesh that splits the indexer (wq_b
// then holds the same heads' rows; wk and k_norm are whole everywhere).
struct IndexerWeights {
  QuantMatrix wq_b;          // [heads * index_head_dim, q_lora_rank]
  QuantMatrix wk;            // [index_head_dim, hidden_size]
  QuantMatrix weights_proj;  // [heads, hidden_size]
  std::vector<float> k_norm_weight, k_norm_bias;
};

// Writes the new tokens' index keys into the cache, then selects for each
// new token the positions it attends to, ascending. `selected[i]` holds
// every visible position when there are no more than index_topk of them.
//
// With ctx.reduce_index_scores set, the scores of the heads held (w scaled
// by the whole model's index_n_heads^-0.5) are laid out new token by new
// token, token i's over positions [0, first_position + i + 1), and passed
// to it in one call before the top-k; its error is returned. Without it the
// heads held are all the heads, and this cannot fail.
Status IndexerForward(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                      const float* x, const float* q_latent, KvCache* cache,
                      std::vector<std::vector<int32_t>>* selected);

// Index scores of one query (q: [heads, index_head_dim] after RoPE;
// head_weights: [heads], scaled) against cached positions [0, visible) of
// `layer`, a page at a time through index_kernels. Split over `pool` by
// pages when given.
void IndexerScores(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
                   int64_t heads, int64_t visible, ThreadPool* pool, float* scores);
// The same in a given precision (the one above: kF32).
void IndexerScores(const KvCache& cache, int64_t layer, const float* q, const float* head_weights,
                   int64_t heads, int64_t visible, IndexPrecision precision, ThreadPool* pool,
                   float* scores);

// The selection of prefill: for each of `tokens` queries at positions
// first_position + i (q: [tokens, heads, index_head_dim], head_weights:
// [tokens, heads]), the top `topk` of its causal prefix, ascending. Queries
// are scored in blocks against chunks of keys, so memory stays bounded by
// the block size times the context; blocks are spread over `pool`.
void IndexerSelectCausal(const KvCache& cache, int64_t layer, const float* q,
                         const float* head_weights, int64_t heads, int64_t first_position,
                         int64_t tokens, int64_t topk, ThreadPool* pool,
                         std::vector<std::vector<int32_t>>* selected);

// Picks the `k` highest scores (ties to the lower position) and returns
// their positions ascending. `scores[t]` is the score of position t;
// `scores` may be null when count <= k (every position is picked).
std::vector<int32_t> TopKPositions(const float* scores, int64_t count, int64_t k);

}  // namespace dsv32
