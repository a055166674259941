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

void ParallelOverHeads(const AttentionContext& ctx, int64_t heads,
                       const std::function<void(int64_t, int64_t)>& fn) {
  if (ctx.pool) {
    ctx.pool->ParallelFor(heads, 1, fn);
  } else {
    fn(0, heads);
  }
}

// Attention with keys and values expanded per head from the cached latents.
void NaiveAttention(const AttentionContext& ctx, const MlaWeights& w, int64_t layer,
                    const float* q, KvCache* cache,
                    const std::vector<std::vector<int32_t>>& selected, float* attn_out) {
  const Dims d = DimsOf(*ctx.config);
  const int64_t T = ctx.tokens;
  const int64_t L = ctx.first_position + T;
  const int64_t kv_width = d.nope + d.v;
  std::vector<float> kv(static_cast<size_t>(L * d.heads * kv_width));
  MatMul(w.kv_b_proj, cache->latent(layer, 0), L, kv.data(), ctx.pool);
  const float scale = Rope::SoftmaxScale(*ctx.config);

  ParallelOverHeads(ctx, d.heads, [&](int64_t h_begin, int64_t h_end) {
    std::vector<float> probs;
    for (int64_t h = h_begin; h < h_end; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const std::vector<int32_t>& keys = selected[static_cast<size_t>(i)];
        const float* qh = q + (i * d.heads + h) * d.qk;
        probs.resize(keys.size());
        for (size_t j = 0; j < keys.size(); ++j) {
          const int64_t t = keys[j];
          const float* k_nope = &kv[static_cast<size_t>((t * d.heads + h) * kv_width)];
          probs[j] = (Dot(qh, k_nope, d.nope) + Dot(qh + d.nope, cache->rope_key(layer, t), d.rope)) *
                     scale;
        }
        Softmax(probs.data(), static_cast<int64_t>(probs.size()));
        float* o = attn_out + (i * d.heads + h) * d.v;
        std::fill(o, o + d.v, 0.0f);
        for (size_t j = 0; j < keys.size(); ++j) {
          const float* v = &kv[static_cast<size_t>((keys[j] * d.heads + h) * kv_width + d.nope)];
          Axpy(probs[j], v, o, d.v);
        }
      }
    }
  });
}

// Attention in the latent space: q_latent = W_kb^T q_nope per head, scores
// against the cached latents, and W_vb applied once to the weighted latent.
void AbsorbedAttention(const AttentionContext& ctx, const MlaWeights& w, int64_t layer,
                       const float* q, KvCache* cache,
                       const std::vector<std::vector<int32_t>>& selected, float* attn_out) {
  const Dims d = DimsOf(*ctx.config);
  const int64_t T = ctx.tokens;
  const int64_t kv_width = d.nope + d.v;
  const float scale = Rope::SoftmaxScale(*ctx.config);

  ParallelOverHeads(ctx, d.heads, [&](int64_t h_begin, int64_t h_end) {
    std::vector<float> row(static_cast<size_t>(d.kv_lora));
    std::vector<float> q_latent(static_cast<size_t>(T * d.kv_lora));
    std::vector<float> o_latent(static_cast<size_t>(d.kv_lora));
    std::vector<float> probs;
    for (int64_t h = h_begin; h < h_end; ++h) {
      // Fold the key half of kv_b_proj into every new query of this head.
      std::fill(q_latent.begin(), q_latent.end(), 0.0f);
      for (int64_t r = 0; r < d.nope; ++r) {
        DequantizeRow(w.kv_b_proj, h * kv_width + r, row.data());
        for (int64_t i = 0; i < T; ++i)
          Axpy(q[(i * d.heads + h) * d.qk + r], row.data(), &q_latent[i * d.kv_lora], d.kv_lora);
      }
      for (int64_t i = 0; i < T; ++i) {
        const std::vector<int32_t>& keys = selected[static_cast<size_t>(i)];
        const float* q_rope = q + (i * d.heads + h) * d.qk + d.nope;
        probs.resize(keys.size());
        for (size_t j = 0; j < keys.size(); ++j) {
          const int64_t t = keys[j];
          probs[j] = (Dot(&q_latent[i * d.kv_lora], cache->latent(layer, t), d.kv_lora) +
                      Dot(q_rope, cache->rope_key(layer, t), d.rope)) *
                     scale;
        }
        Softmax(probs.data(), static_cast<int64_t>(probs.size()));
        std::fill(o_latent.begin(), o_latent.end(), 0.0f);
        for (size_t j = 0; j < keys.size(); ++j)
          Axpy(probs[j], cache->latent(layer, keys[j]), o_latent.data(), d.kv_lora);
        float* o = attn_out + (i * d.heads + h) * d.v;
        for (int64_t r = 0; r < d.v; ++r) {
          DequantizeRow(w.kv_b_proj, h * kv_width + d.nope + r, row.data());
          o[r] = Dot(row.data(), o_latent.data(), d.kv_lora);
        }
      }
    }
  });
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

  // Attention itself runs per sequence, over that sequence's own cache.
  std::vector<float> attn(static_cast<size_t>(T * d.heads * d.v));
  int64_t offset = 0;
  for (const MlaSequence& s : seqs) {
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

    // Which earlier positions each new token attends to.
    std::vector<std::vector<int32_t>> selected;
    if (w.indexer) {
      IndexerSelect(ctx, *w.indexer, layer, *index_proj, offset, s.cache, &selected);
      if (s.indexer_topk) {
        s.indexer_topk->assign(static_cast<size_t>(n * c.index_topk), -1);
        for (int64_t i = 0; i < n; ++i)
          std::copy(selected[static_cast<size_t>(i)].begin(),
                    selected[static_cast<size_t>(i)].end(),
                    s.indexer_topk->begin() + i * c.index_topk);
      }
    } else {
      selected.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        selected[static_cast<size_t>(i)].resize(static_cast<size_t>(ctx.first_position + i + 1));
        std::iota(selected[static_cast<size_t>(i)].begin(), selected[static_cast<size_t>(i)].end(),
                  0);
      }
    }

    float* attn_s = &attn[static_cast<size_t>(offset * d.heads * d.v)];
    const bool absorbed = ctx.path == AttentionPath::kAbsorbed ||
                          (ctx.path == AttentionPath::kAuto && n == 1);
    if (absorbed) {
      AbsorbedAttention(ctx, w, layer, qs, s.cache, selected, attn_s);
    } else {
      NaiveAttention(ctx, w, layer, qs, s.cache, selected, attn_s);
    }
    offset += n;
  }
  MatMul(w.o_proj, attn.data(), T, out, pool);
}

}  // namespace dsv32
