#include "attention/mla.h"

#include <algorithm>
#include <new>

#include "attention/mla_attention.h"
#include "core/ops.h"
#include "core/thread_pool.h"

namespace dsv32 {

namespace {

// RMSNorm(q_lora_rank) and RMSNorm(kv_lora_rank) use the module default.
constexpr double kLatentNormEps = 1e-6;

struct Dims {
  int64_t heads, nope, rope, v, qk, kv_lora;
};

Dims DimsOf(const ModelConfig& c) {
  return {c.num_attention_heads, c.qk_nope_head_dim, c.qk_rope_head_dim,
          c.v_head_dim,          c.qk_head_dim(),    c.kv_lora_rank};
}

// Above this many bytes of expanded per-head keys and values, prefill
// attends in the latent space instead, so memory stays bounded at long
// contexts.
constexpr int64_t kNaiveExpansionBudget = int64_t{256} << 20;

}  // namespace

namespace {

// What a layer computes from its input rows before it needs any cache:
// the queries (and the query latent the indexer reads) and kv_a's latents
// and rope keys. One matmul each over every row given, however many
// sequences they belong to.
struct Projections {
  std::vector<float> q, q_latent, kv_a;
};

void Project(const MlaWeights& w, const Dims& d, const float* x, int64_t T, ThreadPool* pool,
             Projections* p) {
  p->q.resize(static_cast<size_t>(T * d.heads * d.qk));
  if (w.q_proj) {
    MatMul(*w.q_proj, x, T, p->q.data(), pool);
  } else {
    const int64_t rank = w.q_a_proj.rows;
    p->q_latent.resize(static_cast<size_t>(T * rank));
    MatMul(w.q_a_proj, x, T, p->q_latent.data(), pool);
    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&p->q_latent[i * rank], w.q_a_layernorm.data(), rank, kLatentNormEps,
              &p->q_latent[i * rank]);
    MatMul(w.q_b_proj, p->q_latent.data(), T, p->q.data(), pool);
  }
  p->kv_a.resize(static_cast<size_t>(T * (d.kv_lora + d.rope)));
  MatMul(w.kv_a_proj_with_mqa, x, T, p->kv_a.data(), pool);
}

// One sequence's rows of the projections (x, q, q_latent, kv_a start at its
// first row): RoPE, the cache entries, the indexer's selection and
// attention over the cache, into attn [tokens, heads * v_head_dim].
Status Attend(const AttentionContext& ctx, const MlaWeights& w, int64_t layer, const float* x,
              float* q, const float* q_latent, float* kv_a, KvCache* cache, float* attn,
              std::vector<int32_t>* indexer_topk) {
  const ModelConfig& c = *ctx.config;
  const Dims d = DimsOf(c);
  const int64_t T = ctx.tokens;
  const int64_t half_rope = d.rope / 2;

  // The new tokens' latents and rope keys go straight into the cache.
  const int64_t kv_a_width = d.kv_lora + d.rope;
  std::vector<float> latent(static_cast<size_t>(d.kv_lora));
  for (int64_t i = 0; i < T; ++i) {
    const int64_t pos = ctx.first_position + i;
    const float* cos = ctx.cos.data() + i * half_rope;
    const float* sin = ctx.sin.data() + i * half_rope;
    RmsNorm(&kv_a[i * kv_a_width], w.kv_a_layernorm.data(), d.kv_lora, kLatentNormEps,
            latent.data());
    float* rope_key = &kv_a[i * kv_a_width + d.kv_lora];
    ctx.rope->ApplyInterleaved(rope_key, cos, sin);
    cache->StoreLatent(layer, pos, latent.data(), rope_key);
    for (int64_t h = 0; h < d.heads; ++h)
      ctx.rope->ApplyInterleaved(&q[(i * d.heads + h) * d.qk + d.nope], cos, sin);
  }

  // Which earlier positions each new token attends to.
  AttentionSelection selection;
  if (w.indexer) {
    selection.dense = false;
    std::vector<std::vector<int32_t>>& selected = selection.positions;
    DSV32_RETURN_IF_ERROR(IndexerForward(ctx, *w.indexer, layer, x, q_latent, cache, &selected));
    if (indexer_topk) {
      indexer_topk->assign(static_cast<size_t>(T * c.index_topk), -1);
      for (int64_t i = 0; i < T; ++i)
        std::copy(selected[static_cast<size_t>(i)].begin(), selected[static_cast<size_t>(i)].end(),
                  indexer_topk->begin() + i * c.index_topk);
    }
  }

  const int64_t expansion_bytes =
      (ctx.first_position + T) * d.heads * (d.nope + d.v) * static_cast<int64_t>(sizeof(float));
  const bool absorbed =
      ctx.path == AttentionPath::kAbsorbed ||
      (ctx.path == AttentionPath::kAuto && (T == 1 || expansion_bytes > kNaiveExpansionBudget));
  if (absorbed) {
    AbsorbedAttention(ctx, w.kv_b_proj, layer, q, *cache, selection, attn);
  } else {
    NaiveAttention(ctx, w.kv_b_proj, layer, q, *cache, selection, attn);
  }
  return Status::Ok();
}

}  // namespace

Status MlaForward(const AttentionContext& ctx, const MlaWeights& w, int64_t layer, const float* x,
                  KvCache* cache, float* out, std::vector<int32_t>* indexer_topk) {
  const Dims d = DimsOf(*ctx.config);
  const int64_t T = ctx.tokens;
  Projections p;
  Project(w, d, x, T, ctx.pool, &p);
  std::vector<float> attn(static_cast<size_t>(T * d.heads * d.v));
  DSV32_RETURN_IF_ERROR(Attend(ctx, w, layer, x, p.q.data(),
                               p.q_latent.empty() ? nullptr : p.q_latent.data(), p.kv_a.data(),
                               cache, attn.data(), indexer_topk));
  MatMul(w.o_proj, attn.data(), T, out, ctx.pool);
  return Status::Ok();
}

// The projections and o_proj take every sequence's rows in one matmul (the
// weights are read once per step, not once per sequence); RoPE, the
// indexer and attention run per sequence over its own pages.
Status MlaForwardBatch(std::span<const MlaSequence> seqs, const MlaWeights& w, int64_t layer,
                       const float* x, float* out) {
  if (seqs.empty()) return Status::Ok();
  const ModelConfig& c = *seqs[0].ctx->config;
  const Dims d = DimsOf(c);
  ThreadPool* pool = seqs[0].ctx->pool;
  int64_t T = 0;
  for (const MlaSequence& s : seqs) T += s.ctx->tokens;
  Projections p;
  Project(w, d, x, T, pool, &p);
  std::vector<float> attn(static_cast<size_t>(T * d.heads * d.v));
  const int64_t q_rank = p.q_latent.empty() ? 0 : w.q_a_proj.rows;
  int64_t row = 0;
  for (const MlaSequence& s : seqs) {
    DSV32_RETURN_IF_ERROR(
        Attend(*s.ctx, w, layer, x + row * c.hidden_size, &p.q[row * d.heads * d.qk],
               q_rank ? &p.q_latent[row * q_rank] : nullptr, &p.kv_a[row * (d.kv_lora + d.rope)],
               s.cache, &attn[row * d.heads * d.v], s.indexer_topk));
    row += s.ctx->tokens;
  }
  MatMul(w.o_proj, attn.data(), T, out, pool);
  return Status::Ok();
}

}  // namespace dsv32
