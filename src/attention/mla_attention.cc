#include "attention/mla_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/attention_kernels.h"
#include "attention/causal_attention.h"
#include "core/ops.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/matrix.h"

namespace dsv32 {

namespace {

// Positions decoded together: one block of latents (block * 576 floats for
// V3.2, 144 KiB) stays in L2 while every head reads it.
constexpr int64_t kBlock = 64;
// The absorbed path reads kv_b_proj as stored (FP8 for the official
// checkpoints). Where a head's slice cannot go to the matrix-vector kernels
// in place, a chunk of rows at a time is dequantized into a buffer that
// stays in L1 (16 rows of 512 floats for V3.2) and used for a group of up to
// kTokenGroup tokens before the next.
constexpr int64_t kRowChunk = 16;
constexpr int64_t kTokenGroup = 8;

struct Dims {
  int64_t heads, nope, rope, v, qk, kv_lora;
};

Dims DimsOf(const ModelConfig& c) {
  return {c.num_attention_heads, c.qk_nope_head_dim, c.qk_rope_head_dim,
          c.v_head_dim,          c.qk_head_dim(),    c.kv_lora_rank};
}

void ParallelFor(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (pool) {
    pool->ParallelFor(n, 1, fn);
  } else {
    fn(0, n);
  }
}

int64_t VisibleCount(const AttentionContext& ctx, const AttentionSelection& s, int64_t i) {
  return s.dense ? ctx.first_position + i + 1
                 : static_cast<int64_t>(s.positions[static_cast<size_t>(i)].size());
}

int64_t PositionAt(const AttentionSelection& s, int64_t i, int64_t j) {
  return s.dense ? j : s.positions[static_cast<size_t>(i)][static_cast<size_t>(j)];
}

// Running softmax state of every head over a share of the positions.
struct Partial {
  std::vector<float> max, sum, acc;  // [heads], [heads], [heads, kv_lora]
  void Reset(int64_t heads, int64_t kv_lora) {
    max.assign(static_cast<size_t>(heads), -std::numeric_limits<float>::infinity());
    sum.assign(static_cast<size_t>(heads), 0.0f);
    acc.assign(static_cast<size_t>(heads * kv_lora), 0.0f);
  }
};

// Whether every token attends to all the positions up to its own: dense
// attention, or an indexer selection that kept them all (a prompt no longer
// than index_topk), in any order.
bool SeesEveryEarlierPosition(const AttentionContext& ctx, const AttentionSelection& s) {
  if (s.dense) return true;
  if (static_cast<int64_t>(s.positions.size()) != ctx.tokens) return false;
  std::vector<bool> seen;
  for (int64_t i = 0; i < ctx.tokens; ++i) {
    const auto& picked = s.positions[static_cast<size_t>(i)];
    if (static_cast<int64_t>(picked.size()) != ctx.first_position + i + 1) return false;
    // Distinct positions within range; there are as many as positions
    // 0..first_position + i, so they are those.
    seen.assign(picked.size(), false);
    for (int32_t t : picked) {
      if (t < 0 || t >= static_cast<int64_t>(picked.size()) || seen[static_cast<size_t>(t)])
        return false;
      seen[static_cast<size_t>(t)] = true;
    }
  }
  return true;
}

}  // namespace

void GatherLatents(const KvCache& cache, int64_t layer, int64_t count, float* latents,
                   float* rope_keys) {
  const KvFieldFormat& lf = cache.format().field(KvField::kLatent);
  const KvFieldFormat& rf = cache.format().field(KvField::kRopeKey);
  const int64_t P = cache.page_tokens();
  for (int64_t first = 0; first < count; first += P) {
    const int64_t rows = std::min(P, count - first);
    KernelDecodeRows(lf, cache.values(layer, first, KvField::kLatent),
                     cache.scales(layer, first, KvField::kLatent), rows, latents + first * lf.dim);
    KernelDecodeRows(rf, cache.values(layer, first, KvField::kRopeKey),
                     cache.scales(layer, first, KvField::kRopeKey), rows,
                     rope_keys + first * rf.dim);
  }
}

void NaiveAttention(const AttentionContext& ctx, const QuantMatrix& kv_b_proj, int64_t layer,
                    const float* q, const KvCache& cache, const AttentionSelection& selection,
                    float* out) {
  const Dims d = DimsOf(*ctx.config);
  const int64_t T = ctx.tokens;
  const int64_t L = ctx.first_position + T;
  const int64_t kv_width = d.nope + d.v;
  std::vector<float> latents(static_cast<size_t>(L * d.kv_lora));
  std::vector<float> rope_keys(static_cast<size_t>(L * d.rope));
  GatherLatents(cache, layer, L, latents.data(), rope_keys.data());
  std::vector<float> kv(static_cast<size_t>(L * d.heads * kv_width));
  MatMul(kv_b_proj, latents.data(), L, kv.data(), ctx.pool);
  const float scale = Rope::SoftmaxScale(*ctx.config);

  if (SeesEveryEarlierPosition(ctx, selection)) {
    const MlaBuffers buffers{q, kv.data(), rope_keys.data(), out, d.heads, d.nope, d.rope, d.v};
    ParallelFor(ctx.pool, d.heads, [&](int64_t h_begin, int64_t h_end) {
      for (int64_t h = h_begin; h < h_end; ++h) {
        AttendCausalHead(MlaCausalHead(buffers, h, T, ctx.first_position, scale));
      }
    });
    return;
  }

  ParallelFor(ctx.pool, d.heads, [&](int64_t h_begin, int64_t h_end) {
    std::vector<float> probs;
    for (int64_t h = h_begin; h < h_end; ++h) {
      for (int64_t i = 0; i < T; ++i) {
        const int64_t n = VisibleCount(ctx, selection, i);
        const float* qh = q + (i * d.heads + h) * d.qk;
        probs.resize(static_cast<size_t>(n));
        for (int64_t j = 0; j < n; ++j) {
          const int64_t t = PositionAt(selection, i, j);
          const float* k_nope = &kv[static_cast<size_t>((t * d.heads + h) * kv_width)];
          probs[static_cast<size_t>(j)] = (KernelDot(qh, k_nope, d.nope) +
                                           KernelDot(qh + d.nope, &rope_keys[t * d.rope], d.rope)) *
                                          scale;
        }
        Softmax(probs.data(), n);
        float* o = out + (i * d.heads + h) * d.v;
        std::fill(o, o + d.v, 0.0f);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t t = PositionAt(selection, i, j);
          KernelAxpy(probs[static_cast<size_t>(j)],
                     &kv[static_cast<size_t>((t * d.heads + h) * kv_width + d.nope)], o, d.v);
        }
      }
    }
  });
}

namespace {

// Token i attends over its visible latents with its folded queries
// (token_q, [heads, kv_lora + rope]); writes each head's normalised
// weighted latent to o_latent [heads, kv_lora]. The positions are split
// over the pool, one softmax state per part in `partials`.
void AttendOverLatents(const AttentionContext& ctx, const Dims& d, const KvCache& cache,
                       int64_t layer, const AttentionSelection& selection, int64_t i,
                       const float* token_q, std::vector<Partial>& partials, float* o_latent) {
  const int64_t width = d.kv_lora + d.rope;
  const KvFieldFormat& lf = cache.format().field(KvField::kLatent);
  const KvFieldFormat& rf = cache.format().field(KvField::kRopeKey);
  const auto parts_max = static_cast<int64_t>(partials.size());
  const int64_t n = VisibleCount(ctx, selection, i);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int64_t parts = std::min<int64_t>(parts_max, blocks);
  // Each part attends over its own share of the positions; the shares'
  // softmax states are merged below.
  ParallelFor(ctx.pool, parts, [&](int64_t p_begin, int64_t p_end) {
    std::vector<float> keys(static_cast<size_t>(kBlock * width));
    std::vector<float> keys_t(keys.size());
    std::vector<float> scores(static_cast<size_t>(kBlock));
    for (int64_t p = p_begin; p < p_end; ++p) {
      Partial& part = partials[static_cast<size_t>(p)];
      part.Reset(d.heads, d.kv_lora);
      const int64_t b_begin = blocks * p / parts, b_end = blocks * (p + 1) / parts;
      for (int64_t b = b_begin; b < b_end; ++b) {
        const int64_t j0 = b * kBlock;
        const int64_t rows = std::min(kBlock, n - j0);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t t = PositionAt(selection, i, j0 + r);
          float* row = &keys[static_cast<size_t>(r * width)];
          KernelDecodeRows(lf, cache.values(layer, t, KvField::kLatent),
                           cache.scales(layer, t, KvField::kLatent), 1, row);
          KernelDecodeRows(rf, cache.values(layer, t, KvField::kRopeKey),
                           cache.scales(layer, t, KvField::kRopeKey), 1, row + d.kv_lora);
        }
        // Scores with lanes over positions (no horizontal sums), then
        // each head's weighted sum of the block's latents.
        Transpose(keys.data(), rows, width, keys_t.data());
        for (int64_t h = 0; h < d.heads; ++h) {
          KernelDotTransposed(keys_t.data(), rows, width, token_q + h * width, scores.data());
          float block_max = scores[0];
          for (int64_t r = 1; r < rows; ++r)
            block_max = std::max(block_max, scores[static_cast<size_t>(r)]);
          float& m = part.max[static_cast<size_t>(h)];
          float* acc = &part.acc[static_cast<size_t>(h * d.kv_lora)];
          if (block_max > m) {
            const float rescale = std::exp(m - block_max);
            part.sum[static_cast<size_t>(h)] *= rescale;
            KernelScale(rescale, acc, d.kv_lora);
            m = block_max;
          }
          float sum = 0.0f;
          for (int64_t r = 0; r < rows; ++r) {
            scores[static_cast<size_t>(r)] = std::exp(scores[static_cast<size_t>(r)] - m);
            sum += scores[static_cast<size_t>(r)];
          }
          KernelWeightedSum(scores.data(), keys.data(), rows, width, d.kv_lora, acc);
          part.sum[static_cast<size_t>(h)] += sum;
        }
      }
    }
  });

  // Merge the shares and normalise.
  ParallelFor(ctx.pool, d.heads, [&](int64_t h_begin, int64_t h_end) {
    for (int64_t h = h_begin; h < h_end; ++h) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t p = 0; p < parts; ++p)
        m = std::max(m, partials[static_cast<size_t>(p)].max[static_cast<size_t>(h)]);
      float* o = o_latent + h * d.kv_lora;
      std::fill(o, o + d.kv_lora, 0.0f);
      float sum = 0.0f;
      for (int64_t p = 0; p < parts; ++p) {
        const Partial& part = partials[static_cast<size_t>(p)];
        const float w = std::exp(part.max[static_cast<size_t>(h)] - m);
        sum += w * part.sum[static_cast<size_t>(h)];
        KernelAxpy(w, &part.acc[static_cast<size_t>(h * d.kv_lora)], o, d.kv_lora);
      }
      KernelScale(1.0f / sum, o, d.kv_lora);
    }
  });
}

}  // namespace

void AbsorbedAttention(const AttentionContext& ctx, const QuantMatrix& kv_b, int64_t layer,
                       const float* q, const KvCache& cache, const AttentionSelection& selection,
                       float* out) {
  const Dims d = DimsOf(*ctx.config);
  const int64_t kv_width = d.nope + d.v;
  const int64_t width = d.kv_lora + d.rope;  // a decoded key row: latent then rope key
  const float scale = Rope::SoftmaxScale(*ctx.config);
  std::vector<Partial> partials(static_cast<size_t>(ctx.pool ? ctx.pool->size() : 1));
  const int64_t group_max = std::min(kTokenGroup, ctx.tokens);
  std::vector<float> q_cat(static_cast<size_t>(group_max * d.heads * width));
  std::vector<float> o_latent(static_cast<size_t>(group_max * d.heads * d.kv_lora));
  // Each head's W_kb and W_vb go through the matrix-vector kernels where
  // its rows can be viewed on their own (FP8: where they start on a block
  // of rows, as at V3.2's sizes); elsewhere through dequantized chunks.
  bool kb_views = true, vb_views = true;
  const Fp8Decode kb_decode = Fp8F32BitsPays() ? Fp8Decode::kF32Bits : Fp8Decode::kBits;
  for (int64_t h = 0; h < d.heads; ++h) {
    kb_views = kb_views && HasRowsView(kv_b, h * kv_width, d.nope);
    vb_views = vb_views && HasRowsView(kv_b, h * kv_width + d.nope, d.v);
  }

  for (int64_t g0 = 0; g0 < ctx.tokens; g0 += kTokenGroup) {
    const int64_t group = std::min(kTokenGroup, ctx.tokens - g0);

    // q_cat[i][h] = [W_kb[h]^T q_nope[i][h], q_rope[i][h]], scaled.
    ParallelFor(ctx.pool, d.heads, [&](int64_t h_begin, int64_t h_end) {
      if (kb_views && group == 1) {
        // One token (a decode step): the transposed product reads the
        // head's W_kb once, straight into registers.
        std::vector<float> q_scaled(static_cast<size_t>(d.nope));
        for (int64_t h = h_begin; h < h_end; ++h) {
          const float* qh = q + (g0 * d.heads + h) * d.qk;
          float* qc = &q_cat[static_cast<size_t>(h * width)];
          for (int64_t r = 0; r < d.nope; ++r) q_scaled[static_cast<size_t>(r)] = qh[r] * scale;
          MatVecTransposed(RowsOf(kv_b, h * kv_width, d.nope), q_scaled.data(), qc, kb_decode);
          for (int64_t r = 0; r < d.rope; ++r) qc[d.kv_lora + r] = qh[d.nope + r] * scale;
        }
        return;
      }
      std::vector<float> rows(static_cast<size_t>(kRowChunk * d.kv_lora));
      for (int64_t h = h_begin; h < h_end; ++h) {
        for (int64_t i = 0; i < group; ++i) {
          const float* qh = q + ((g0 + i) * d.heads + h) * d.qk;
          float* qc = &q_cat[static_cast<size_t>((i * d.heads + h) * width)];
          std::fill(qc, qc + d.kv_lora, 0.0f);
          for (int64_t r = 0; r < d.rope; ++r) qc[d.kv_lora + r] = qh[d.nope + r] * scale;
        }
        for (int64_t r0 = 0; r0 < d.nope; r0 += kRowChunk) {
          const int64_t n = std::min(kRowChunk, d.nope - r0);
          DequantizeRows(kv_b, h * kv_width + r0, n, rows.data());
          for (int64_t i = 0; i < group; ++i) {
            const float* qh = q + ((g0 + i) * d.heads + h) * d.qk;
            float* qc = &q_cat[static_cast<size_t>((i * d.heads + h) * width)];
            for (int64_t r = 0; r < n; ++r) {
              KernelAxpy(qh[r0 + r] * scale, &rows[static_cast<size_t>(r * d.kv_lora)], qc,
                         d.kv_lora);
            }
          }
        }
      }
    });

    for (int64_t g = 0; g < group; ++g) {
      AttendOverLatents(ctx, d, cache, layer, selection, g0 + g,
                        &q_cat[static_cast<size_t>(g * d.heads * width)], partials,
                        &o_latent[static_cast<size_t>(g * d.heads * d.kv_lora)]);
    }

    // out[i][h] = W_vb[h] o_latent[i][h].
    ParallelFor(ctx.pool, d.heads, [&](int64_t h_begin, int64_t h_end) {
      if (vb_views) {
        // Each head's W_vb is a matrix of its own, decoded once for the
        // whole group of tokens (MatMul's decode kernel and its choice of
        // FP8 decode).
        std::vector<float> x(static_cast<size_t>(group * d.kv_lora));
        std::vector<float> y(static_cast<size_t>(group * d.v));
        for (int64_t h = h_begin; h < h_end; ++h) {
          for (int64_t g = 0; g < group; ++g) {
            const float* o = &o_latent[static_cast<size_t>((g * d.heads + h) * d.kv_lora)];
            std::copy(o, o + d.kv_lora, &x[static_cast<size_t>(g * d.kv_lora)]);
          }
          MatMul(RowsOf(kv_b, h * kv_width + d.nope, d.v), x.data(), group, y.data(), nullptr);
          for (int64_t g = 0; g < group; ++g) {
            std::copy(&y[static_cast<size_t>(g * d.v)], &y[static_cast<size_t>((g + 1) * d.v)],
                      out + ((g0 + g) * d.heads + h) * d.v);
          }
        }
        return;
      }
      std::vector<float> rows(static_cast<size_t>(kRowChunk * d.kv_lora));
      for (int64_t h = h_begin; h < h_end; ++h) {
        for (int64_t r0 = 0; r0 < d.v; r0 += kRowChunk) {
          const int64_t n = std::min(kRowChunk, d.v - r0);
          DequantizeRows(kv_b, h * kv_width + d.nope + r0, n, rows.data());
          for (int64_t g = 0; g < group; ++g) {
            KernelDotRows(rows.data(), d.kv_lora, n,
                          &o_latent[static_cast<size_t>((g * d.heads + h) * d.kv_lora)], d.kv_lora,
                          out + ((g0 + g) * d.heads + h) * d.v + r0);
          }
        }
      }
    });
  }
}

}  // namespace dsv32
