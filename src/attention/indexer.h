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
#include "attention/kv_cache.h"
#include "quant/matrix.h"

namespace dsv32 {

struct IndexerWeights {
  QuantMatrix wq_b;          // [index_n_heads * index_head_dim, q_lora_rank]
  QuantMatrix wk;            // [index_head_dim, hidden_size]
  QuantMatrix weights_proj;  // [index_n_heads, hidden_size]
  std::vector<float> k_norm_weight, k_norm_bias;
};

// Writes the new tokens' index keys into the cache, then selects for each
// new token the positions it attends to, ascending. `selected[i]` holds
// every visible position when there are no more than index_topk of them.
void IndexerForward(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                    const float* x, const float* q_latent, KvCache* cache,
                    std::vector<std::vector<int32_t>>* selected);

// The indexer's projections of `tokens` rows (possibly several sequences'
// tokens back to back), before RoPE and normalisation.
struct IndexerProjection {
  std::vector<float> q;             // [tokens, index_n_heads, index_head_dim]
  std::vector<float> k;             // [tokens, index_head_dim]
  std::vector<float> head_weights;  // [tokens, index_n_heads]
};
IndexerProjection IndexerProject(const ModelConfig& config, const IndexerWeights& w,
                                 const float* x, const float* q_latent, int64_t tokens,
                                 ThreadPool* pool);

// IndexerForward's second half for one sequence whose ctx.tokens rows start
// at row `first_row` of `proj` (which it modifies in place).
void IndexerSelect(const AttentionContext& ctx, const IndexerWeights& w, int64_t layer,
                   IndexerProjection& proj, int64_t first_row, KvCache* cache,
                   std::vector<std::vector<int32_t>>* selected);

// Picks the `k` highest scores (ties to the lower position) and returns
// their positions ascending. `scores[t]` is the score of position t.
std::vector<int32_t> TopKPositions(const float* scores, int64_t count, int64_t k);

}  // namespace dsv32
