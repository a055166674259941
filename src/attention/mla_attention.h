// The attention step of MLA over the cache, given the new tokens' queries
// (RoPE applied) and the positions each one attends to.
//
// Naive: expand every cached latent into per-head keys and values with
// kv_b_proj, then attend (cheap per query when many queries share the
// expansion, as in prefill). Absorbed: fold kv_b_proj's key half into each
// query (q_latent = W_kb^T q_nope), attend over the latents themselves with
// an online softmax, and apply the value half W_vb once to the weighted
// latent (cheap per query, as in decode, and memory-bounded at any length).
#pragma once

#include <cstdint>
#include <vector>

#include "attention/attention_context.h"
#include "attention/kv_cache.h"
#include "quant/matrix.h"

namespace dsv32 {

// Which positions each new token attends to: `positions[i]` ascending, or,
// when `dense`, every position up to the token's own (causal).
struct AttentionSelection {
  bool dense = true;
  std::vector<std::vector<int32_t>> positions;
};

// q: [tokens, heads, qk_head_dim]; out: [tokens, heads, v_head_dim].
void NaiveAttention(const AttentionContext& ctx, const QuantMatrix& kv_b_proj, int64_t layer,
                    const float* q, const KvCache& cache, const AttentionSelection& selection,
                    float* out);

// kv_b: kv_b_proj in any weight format, [heads * (nope + v), kv_lora_rank].
void AbsorbedAttention(const AttentionContext& ctx, const QuantMatrix& kv_b, int64_t layer,
                       const float* q, const KvCache& cache, const AttentionSelection& selection,
                       float* out);

// Decodes positions [0, count) of one layer's latents and rope keys into
// f32 rows ([count, kv_lora_rank] and [count, rope_dim]).
void GatherLatents(const KvCache& cache, int64_t layer, int64_t count, float* latents,
                   float* rope_keys);

}  // namespace dsv32
