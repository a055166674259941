// Multi-head latent attention (DeepSeek-V2/V3), with V3.2's sparse
// selection when the layer has an indexer.
//
//   q        = q_b_proj(RMSNorm(q_a_proj(x)))       [heads, nope + rope]
//   latent   = RMSNorm(kv_a_proj_with_mqa(x)[:kv_lora_rank])
//   rope_key = RoPE(kv_a_proj_with_mqa(x)[kv_lora_rank:])   shared by all heads
//   k_nope, v = split(kv_b_proj(latent))             per head
//   out      = o_proj(softmax(q . k * scale) v)
//
// Only latent and rope_key are cached. The absorbed path folds kv_b_proj's
// key half into the query and its value half after the weighted sum, so
// attention runs in the kv_lora_rank space without expanding the cache.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "attention/attention_context.h"
#include "attention/indexer.h"
#include "attention/kv_cache.h"
#include "quant/matrix.h"

namespace dsv32 {

struct MlaWeights {
  std::optional<QuantMatrix> q_proj;  // only when the config has no q_lora_rank
  QuantMatrix q_a_proj;
  std::vector<float> q_a_layernorm;
  QuantMatrix q_b_proj;
  QuantMatrix kv_a_proj_with_mqa;
  std::vector<float> kv_a_layernorm;
  QuantMatrix kv_b_proj;
  QuantMatrix o_proj;
  std::optional<IndexerWeights> indexer;
};

// x: the normed hidden states of the new tokens, [tokens, hidden_size].
// Stores their cache entries (the positions must be reserved and
// writable), and writes the attention output to `out` [tokens,
// hidden_size]. If `indexer_topk` is given, it receives the positions each
// token attended to ([tokens, index_topk], ascending, -1 padded) for layers
// with an indexer. Fails only when ctx.reduce_index_scores does (see
// IndexerForward).
Status MlaForward(const AttentionContext& ctx, const MlaWeights& w, int64_t layer, const float* x,
                  KvCache* cache, float* out, std::vector<int32_t>* indexer_topk);

// One sequence's share of a batched step: its new tokens (ctx->tokens of
// them, at ctx->first_position on) and its cache.
struct MlaSequence {
  const AttentionContext* ctx;
  KvCache* cache;
  std::vector<int32_t>* indexer_topk;  // may be null
};

// Several sequences at once: x holds their new tokens back to back, in the
// order of `seqs`, and so does `out`. The projections run over all rows
// together on the first context's pool; each sequence attends over its own
// paged cache, so the result equals MlaForward on each sequence alone (to
// the rounding of a matmul over more rows).
Status MlaForwardBatch(std::span<const MlaSequence> seqs, const MlaWeights& w, int64_t layer,
                       const float* x, float* out);

}  // namespace dsv32
