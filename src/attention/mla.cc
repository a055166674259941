#include "attention/mla.h"

#include <algorithm>
#include <numeric>
#include <optional>

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

// One sequence's attention inputs for a step: its queries, the positions
// each query attends to, where its output goes, and (naive path) its keys
// and values expanded from the latents.
struct SequenceAttention {
  const AttentionContext* ctx;
  KvCache* cache;
  const float* q;  // [tokens, heads, qk]
  std::vector<std::vector<int32_t>> selected;
  float* out;  // [tokens, heads, v]
  bool absorbed;
  std::vector<float> kv;  // naive only: [cached, heads, nope + v]
};

// Attention with keys and values expanded per head from the cached latents,
// for head h of one sequence.
void NaiveHead(const Dims& d, float scale, int64_t layer, const SequenceAttention& s, int64_t h,
               std::vector<float>& probs) {
  const int64_t kv_width = d.nope + d.v;
  for (int64_t i = 0; i < s.ctx->tokens; ++i) {
    const std::vector<int32_t>& keys = s.selected[static_cast<size_t>(i)];
    const float* qh = s.q + (i * d.heads + h) * d.qk;
    probs.resize(keys.size());
    for (size_t j = 0; j < keys.size(); ++j) {
      const int64_t t = keys[j];
      const float* k_nope = &s.kv[static_cast<size_t>((t * d.heads + h) * kv_width)];
      probs[j] = (Dot(qh, k_nope, d.nope) + Dot(qh + d.nope, s.cache->rope_key(layer, t), d.rope)) *
                 scale;
    }
    Softmax(probs.data(), static_cast<int64_t>(probs.size()));
    float* o = s.out + (i * d.heads + h) * d.v;
    std::fill(o, o + d.v, 0.0f);
    for (size_t j = 0; j < keys.size(); ++j) {
      const float* v = &s.kv[static_cast<size_t>((keys[j] * d.heads + h) * kv_width + d.nope)];
      Axpy(probs[j], v, o, d.v);
    }
  }
}

// Attention in the latent space for head h of every absorbed sequence at
// once: q_latent = W_kb^T q_nope, scores against the cached latents, and
// W_vb applied to the weighted latent. Each row of kv_b_proj is
// dequantized once for all of the step's queries.
void AbsorbedHead(const Dims& d, float scale, int64_t layer, const MlaWeights& w,
                  const std::vector<const SequenceAttention*>& seqs, int64_t h,
                  std::vector<float>& probs) {
  const int64_t kv_width = d.nope + d.v;
  int64_t queries = 0;
  for (const SequenceAttention* s : seqs) queries += s->ctx->tokens;
  std::vector<float> row(static_cast<size_t>(d.kv_lora));
  std::vector<float> q_latent(static_cast<size_t>(queries * d.kv_lora), 0.0f);
  for (int64_t r = 0; r < d.nope; ++r) {
    DequantizeRow(w.kv_b_proj, h * kv_width + r, row.data());
    int64_t k = 0;
    for (const SequenceAttention* s : seqs)
      for (int64_t i = 0; i < s->ctx->tokens; ++i, ++k)
        Axpy(s->q[(i * d.heads + h) * d.qk + r], row.data(), &q_latent[k * d.kv_lora], d.kv_lora);
  }
  // The weighted latents replace the query latents in place.
  int64_t k = 0;
  for (const SequenceAttention* s : seqs)
    for (int64_t i = 0; i < s->ctx->tokens; ++i, ++k) {
      const std::vector<int32_t>& keys = s->selected[static_cast<size_t>(i)];
      const float* q_rope = s->q + (i * d.heads + h) * d.qk + d.nope;
      float* latent = &q_latent[k * d.kv_lora];
      probs.resize(keys.size());
      for (size_t j = 0; j < keys.size(); ++j) {
        const int64_t t = keys[j];
        probs[j] = (Dot(latent, s->cache->latent(layer, t), d.kv_lora) +
                    Dot(q_rope, s->cache->rope_key(layer, t), d.rope)) *
                   scale;
      }
      Softmax(probs.data(), static_cast<int64_t>(probs.size()));
      std::fill(latent, latent + d.kv_lora, 0.0f);
      for (size_t j = 0; j < keys.size(); ++j)
        Axpy(probs[j], s->cache->latent(layer, keys[j]), latent, d.kv_lora);
    }
  for (int64_t r = 0; r < d.v; ++r) {
    DequantizeRow(w.kv_b_proj, h * kv_width + d.nope + r, row.data());
    k = 0;
    for (const SequenceAttention* s : seqs)
      for (int64_t i = 0; i < s->ctx->tokens; ++i, ++k)
        s->out[(i * d.heads + h) * d.v + r] = Dot(row.data(), &q_latent[k * d.kv_lora], d.kv_lora);
  }
}

}  // namespace

void MlaForward(const AttentionContext& ctx, const MlaWeights& w, int64_t layer, const float* x,
                KvCache* cache, float* out, std::vector<int32_t>* indexer_topk) {
  MlaSequence seq{&ctx, cache, indexer_topk};
  MlaForwardBatch(std::span<const MlaSequence>(&seq, 1), w, layer, x, ctx.pool, out);
}

void MlaForwardBatch(std::span<const MlaSequence> seqs, const MlaWeights& w, int64_t layer,
                     const float* x, ThreadPool* pool, float* out) {
  const ModelConfig& c = *seqs.front().ctx->config;
  const Dims d = DimsOf(c);
  const int64_t half_rope = d.rope / 2;
  int64_t T = 0;
  for (const MlaSequence& s : seqs) T += s.ctx->tokens;

  // The projections take every sequence's new tokens in one pass, so each
  // weight row is read once per step rather than once per sequence.
  std::vector<float> q(static_cast<size_t>(T * d.heads * d.qk));
  std::vector<float> q_latent;
  int64_t q_rank = 0;
  if (w.q_proj) {
    MatMul(*w.q_proj, x, T, q.data(), pool);
  } else {
    q_rank = w.q_a_proj.rows;
    q_latent.resize(static_cast<size_t>(T * q_rank));
    MatMul(w.q_a_proj, x, T, q_latent.data(), pool);
    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&q_latent[i * q_rank], w.q_a_layernorm.data(), q_rank, kLatentNormEps,
              &q_latent[i * q_rank]);
    MatMul(w.q_b_proj, q_latent.data(), T, q.data(), pool);
  }
  const int64_t kv_a_width = d.kv_lora + d.rope;
  std::vector<float> kv_a(static_cast<size_t>(T * kv_a_width));
  MatMul(w.kv_a_proj_with_mqa, x, T, kv_a.data(), pool);
  std::optional<IndexerProjection> index_proj;
  if (w.indexer) index_proj = IndexerProject(c, *w.indexer, x, q_latent.data(), T, pool);

  // Per sequence: cache entries, RoPE, and which positions each query sees.
  std::vector<float> attn(static_cast<size_t>(T * d.heads * d.v));
  std::vector<SequenceAttention> work(seqs.size());
  int64_t offset = 0;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const MlaSequence& s = seqs[si];
    const AttentionContext& ctx = *s.ctx;
    const int64_t n = ctx.tokens;
    float* qs = &q[static_cast<size_t>(offset * d.heads * d.qk)];
    // The new tokens' latents and rope keys go straight into the cache.
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pos = ctx.first_position + i;
      const float* cos = ctx.cos.data() + i * half_rope;
      const float* sin = ctx.sin.data() + i * half_rope;
      const float* row = &kv_a[static_cast<size_t>((offset + i) * kv_a_width)];
      RmsNorm(row, w.kv_a_layernorm.data(), d.kv_lora, kLatentNormEps,
              s.cache->latent(layer, pos));
      float* rope_key = s.cache->rope_key(layer, pos);
      std::copy_n(row + d.kv_lora, d.rope, rope_key);
      ctx.rope->ApplyInterleaved(rope_key, cos, sin);
      for (int64_t h = 0; h < d.heads; ++h)
        ctx.rope->ApplyInterleaved(&qs[(i * d.heads + h) * d.qk + d.nope], cos, sin);
    }

    SequenceAttention& a = work[si];
    a.ctx = &ctx;
    a.cache = s.cache;
    a.q = qs;
    a.out = &attn[static_cast<size_t>(offset * d.heads * d.v)];
    if (w.indexer) {
      IndexerSelect(ctx, *w.indexer, layer, *index_proj, offset, s.cache, &a.selected);
      if (s.indexer_topk) {
        s.indexer_topk->assign(static_cast<size_t>(n * c.index_topk), -1);
        for (int64_t i = 0; i < n; ++i)
          std::copy(a.selected[static_cast<size_t>(i)].begin(),
                    a.selected[static_cast<size_t>(i)].end(),
                    s.indexer_topk->begin() + i * c.index_topk);
      }
    } else {
      a.selected.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        a.selected[static_cast<size_t>(i)].resize(static_cast<size_t>(ctx.first_position + i + 1));
        std::iota(a.selected[static_cast<size_t>(i)].begin(),
                  a.selected[static_cast<size_t>(i)].end(), 0);
      }
    }
    a.absorbed = ctx.path == AttentionPath::kAbsorbed || (ctx.path == AttentionPath::kAuto && n == 1);
    if (!a.absorbed) {
      // Expanding the latents pays off when many queries share them.
      const int64_t cached = ctx.first_position + n;
      a.kv.resize(static_cast<size_t>(cached * d.heads * (d.nope + d.v)));
      MatMul(w.kv_b_proj, s.cache->latent(layer, 0), cached, a.kv.data(), pool);
    }
    offset += n;
  }

  // Attention itself: one parallel loop over heads covers every sequence.
  std::vector<const SequenceAttention*> absorbed;
  for (const SequenceAttention& a : work)
    if (a.absorbed) absorbed.push_back(&a);
  const float scale = Rope::SoftmaxScale(c);
  auto run = [&](int64_t h_begin, int64_t h_end) {
    std::vector<float> probs;
    for (int64_t h = h_begin; h < h_end; ++h) {
      if (!absorbed.empty()) AbsorbedHead(d, scale, layer, w, absorbed, h, probs);
      for (const SequenceAttention& a : work)
        if (!a.absorbed) NaiveHead(d, scale, layer, a, h, probs);
    }
  };
  if (pool) {
    pool->ParallelFor(d.heads, 1, run);
  } else {
    run(0, d.heads);
  }
  MatMul(w.o_proj, attn.data(), T, out, pool);
}

}  // namespace dsv32
