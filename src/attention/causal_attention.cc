#include "attention/causal_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>

#include "attention/attention_kernels.h"
#include "core/scratch.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "attention/causal_attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// After highway.h, for every target.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsv32 {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Queries per block, and key vectors per block: 6 x 4 accumulators on
// AVX-512's 32 registers (as the prefill GEMM), 6 x 2 on targets with 16.
constexpr int kQB = 6;
#if HWY_TARGET <= HWY_AVX3
constexpr int kNV = 4;
#else
constexpr int kNV = 2;
#endif
// Positions transposed at a time: their keys (512 x 192 floats for V3.2,
// 384 KiB) and values (256 KiB) stay in L2 while every query block that
// sees them passes. A multiple of every target's block of positions.
constexpr int64_t kChunk = 512;

// scores[r * kNV * lanes + j] = q_r . key j over one block of transposed
// keys, kt[d * kNV * lanes + j]. The sums live in local registers and are
// stored once at the end: handed back by reference, they were spilled to
// memory on every step.
HWY_INLINE void Scores(const float* const (&q)[kQB], const float* HWY_RESTRICT kt, int64_t dim,
                       float* HWY_RESTRICT scores) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF s[kQB][kNV];
  for (int r = 0; r < kQB; ++r) {
    for (int j = 0; j < kNV; ++j) s[r][j] = hn::Zero(df);
  }
  for (int64_t d = 0; d < dim; ++d) {
    VF k[kNV];
    for (int j = 0; j < kNV; ++j) k[j] = hn::LoadU(df, kt + (d * kNV + j) * lanes);
    for (int r = 0; r < kQB; ++r) {
      const VF qv = hn::Set(df, q[r][d]);
      for (int j = 0; j < kNV; ++j) s[r][j] = hn::MulAdd(qv, k[j], s[r][j]);
    }
  }
  for (int r = 0; r < kQB; ++r) {
    for (int j = 0; j < kNV; ++j) hn::StoreU(s[r][j], df, scores + (r * kNV + j) * lanes);
  }
}

// o_r[d0..d0 + NV * lanes) += sum_t p[r * kb + t] * vc[t * v_dim + d0..] for
// the kQB rows, t < count.
template <int NV>
HWY_INLINE void AddWeightedValues(const float* HWY_RESTRICT p, int64_t kb,
                                  const float* HWY_RESTRICT vc, int64_t v_dim, int64_t count,
                                  int64_t d0, float* const (&o)[kQB]) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  VF acc[kQB][NV];
  for (int r = 0; r < kQB; ++r) {
    for (int j = 0; j < NV; ++j) acc[r][j] = hn::LoadU(df, o[r] + d0 + j * lanes);
  }
  for (int64_t t = 0; t < count; ++t) {
    VF v[NV];
    for (int j = 0; j < NV; ++j) v[j] = hn::LoadU(df, vc + t * v_dim + d0 + j * lanes);
    for (int r = 0; r < kQB; ++r) {
      const VF pv = hn::Set(df, p[r * kb + t]);
      for (int j = 0; j < NV; ++j) acc[r][j] = hn::MulAdd(pv, v[j], acc[r][j]);
    }
  }
  for (int r = 0; r < kQB; ++r) {
    for (int j = 0; j < NV; ++j) hn::StoreU(acc[r][j], df, o[r] + d0 + j * lanes);
  }
}

}  // namespace

void AttendCausalHeadImpl(const CausalHead& h) {
  const DF df;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t kb = kNV * lanes;  // positions per block
  const int64_t dim = h.nope + h.rope;
  const int64_t T = h.tokens;
  const int64_t L = h.first_position + T;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const hn::RebindToSigned<DF> di;
  const auto lane_index = hn::Iota(di, 0);
  const VF scale = hn::Set(df, h.scale);
  const VF masked_out = hn::Set(df, neg_inf);

  // Each query's running sums of weighted values (T rows, and kQB more
  // that a last, short block of queries writes and nobody reads), maximum
  // score and normaliser; one chunk's keys transposed and values; a block's
  // probabilities.
  thread_local ScratchFloats scratch;
  ScratchTrim trim(scratch);
  const int64_t o_floats = (T + kQB) * h.v_dim;
  const int64_t kt_floats = dim * kChunk;
  const int64_t vc_floats = kChunk * h.v_dim;
  const int64_t p_floats = kQB * kb;
  float* const base =
      scratch.Get(static_cast<size_t>(o_floats + 2 * T + kt_floats + vc_floats + p_floats));
  if (!base) throw std::bad_alloc();
  float* const o = base;
  float* const row_max = o + o_floats;
  float* const row_sum = row_max + T;
  float* const kt = row_sum + T;
  float* const vc = kt + kt_floats;
  float* const p = vc + vc_floats;
  std::fill(o, o + o_floats, 0.0f);
  std::fill(row_max, row_max + T, neg_inf);
  std::fill(row_sum, row_sum + T, 0.0f);

  for (int64_t c0 = 0; c0 < L; c0 += kChunk) {
    const int64_t n = std::min(kChunk, L - c0);
    const int64_t n_padded = (n + kb - 1) / kb * kb;
    // Block b of kb positions is kt[b * dim * kb + d * kb + j], read front
    // to back by Scores; the padding past the last position scores zero and
    // is masked below.
    std::fill(kt + (n_padded - kb) * dim, kt + n_padded * dim, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t t = c0 + j;
      float* col = kt + (j / kb) * dim * kb + j % kb;
      const float* kn = h.k_nope + t * h.kv_stride;
      for (int64_t d = 0; d < h.nope; ++d) col[d * kb] = kn[d];
      const float* kr = h.k_rope + t * h.rope;
      for (int64_t d = 0; d < h.rope; ++d) col[(h.nope + d) * kb] = kr[d];
      std::copy(h.v + t * h.kv_stride, h.v + t * h.kv_stride + h.v_dim, vc + j * h.v_dim);
    }

    // Queries before position c0 see none of this chunk.
    for (int64_t i0 = std::max<int64_t>(0, c0 - h.first_position); i0 < T; i0 += kQB) {
      const int64_t rows = std::min<int64_t>(kQB, T - i0);
      const float* q[kQB];
      float* orow[kQB];
      for (int r = 0; r < kQB; ++r) {
        // A short block repeats its last query and sums into the spare rows.
        q[r] = h.q + (i0 + std::min<int64_t>(r, rows - 1)) * h.q_stride;
        orow[r] = o + (i0 + r) * h.v_dim;
      }
      const int64_t last_position = h.first_position + i0 + rows - 1;
      for (int64_t k0 = 0; k0 < n && c0 + k0 <= last_position; k0 += kb) {
        Scores(q, kt + k0 * dim, dim, p);
        const int64_t count = std::min(kb, n - k0);
        for (int r = 0; r < kQB; ++r) {
          float* pr = p + r * kb;
          const int64_t i = i0 + r;
          const int64_t position = h.first_position + i;
          if (r >= rows || c0 + k0 > position) {
            std::fill(pr, pr + kb, 0.0f);
            continue;
          }
          // Scores of positions after the query's own are masked out.
          VF masked[kNV];
          VF block_max = masked_out;
          const auto end = hn::Set(di, static_cast<int32_t>(position + 1));
          for (int j = 0; j < kNV; ++j) {
            const auto t =
                hn::Add(lane_index, hn::Set(di, static_cast<int32_t>(c0 + k0 + j * lanes)));
            const auto visible = hn::RebindMask(df, hn::Lt(t, end));
            masked[j] =
                hn::IfThenElse(visible, hn::Mul(hn::LoadU(df, pr + j * lanes), scale), masked_out);
            block_max = hn::Max(block_max, masked[j]);
          }
          const float m_old = row_max[i];
          const float m_new = std::max(m_old, hn::GetLane(hn::MaxOfLanes(df, block_max)));
          if (m_new > m_old) {
            // Earlier blocks' sums were weighted against the old maximum.
            if (m_old != neg_inf) {
              const float rescale = std::exp(m_old - m_new);
              row_sum[i] *= rescale;
              KernelScale(rescale, orow[r], h.v_dim);
            }
            row_max[i] = m_new;
          }
          VF sum = hn::Zero(df);
          const VF m = hn::Set(df, m_new);
          for (int j = 0; j < kNV; ++j) {
            // exp(-inf) is 0: masked positions weigh nothing.
            const VF e = hn::Exp(df, hn::Sub(masked[j], m));
            const VF pe = hn::IfThenElseZero(hn::Ne(masked[j], masked_out), e);
            sum = hn::Add(sum, pe);
            hn::StoreU(pe, df, pr + j * lanes);
          }
          row_sum[i] += hn::GetLane(hn::SumOfLanes(df, sum));
        }
        const float* vb = vc + k0 * h.v_dim;
        int64_t d0 = 0;
        for (; d0 + kNV * lanes <= h.v_dim; d0 += kNV * lanes) {
          AddWeightedValues<kNV>(p, kb, vb, h.v_dim, count, d0, orow);
        }
        for (; d0 + lanes <= h.v_dim; d0 += lanes) {
          AddWeightedValues<1>(p, kb, vb, h.v_dim, count, d0, orow);
        }
        for (; d0 < h.v_dim; ++d0) {
          for (int r = 0; r < kQB; ++r) {
            float acc = orow[r][d0];
            for (int64_t t = 0; t < count; ++t) acc += p[r * kb + t] * vb[t * h.v_dim + d0];
            orow[r][d0] = acc;
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < T; ++i) {
    const float inv = 1.0f / row_sum[i];
    for (int64_t d = 0; d < h.v_dim; ++d) h.out[i * h.out_stride + d] = o[i * h.v_dim + d] * inv;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsv32
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsv32 {

HWY_EXPORT(AttendCausalHeadImpl);

void AttendCausalHead(const CausalHead& head) {
  if (head.tokens <= 0) return;
  HWY_DYNAMIC_DISPATCH(AttendCausalHeadImpl)(head);
}

}  // namespace dsv32
#endif  // HWY_ONCE
