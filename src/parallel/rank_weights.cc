#include "parallel/rank_weights.h"

#include <cstring>
#include <numeric>
#include <unordered_map>

#include "model/weight_catalog.h"

namespace dsv32 {

namespace {

int64_t ElementBytes(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32:
      return 4;
    case WeightFormat::kBF16:
      return 2;
    case WeightFormat::kFp8Block:
      return 1;
    case WeightFormat::kInt4:  // packed; SliceMatrix refuses it before asking
      return 0;
  }
  return 0;
}

// The finest block size that keeps every original block boundary inside a
// slice starting at `offset` on a block boundary of the slice.
int64_t SliceBlock(int64_t block, int64_t offset) { return std::gcd(block, offset); }

class Slicer {
 public:
  Slicer(const ModelConfig& config, const ShardingPlan& plan, int rank, RankWeights* out)
      : plan_(plan), rank_(rank), out_(out) {
    for (CheckpointTensor& t : CheckpointTensors(config))
      if (!t.is_scale && !t.mtp) tensors_.emplace(t.name, std::move(t));
  }

  // The plan's shard of `w`; nullopt when this rank holds none of it.
  Result<std::optional<QuantMatrix>> Shard(const QuantMatrix& w) {
    auto it = tensors_.find(w.name);
    if (it == tensors_.end()) return NotFound(w.name + ": not in the checkpoint catalog");
    DSV32_ASSIGN_OR_RETURN(TensorShard s, plan_.ShardOf(it->second, rank_));
    if (!s.present) return std::optional<QuantMatrix>();
    DSV32_ASSIGN_OR_RETURN(QuantMatrix m, SliceMatrix(w, s.rows, s.cols, &out_->storage));
    out_->matrix_bytes += m.rows * m.cols * ElementBytes(m.format);
    out_->scale_bytes += static_cast<int64_t>(m.bytes()) - m.rows * m.cols * ElementBytes(m.format);
    return std::optional<QuantMatrix>(m);
  }

  Result<QuantMatrix> Held(const QuantMatrix& w) {
    DSV32_ASSIGN_OR_RETURN(std::optional<QuantMatrix> m, Shard(w));
    if (!m)
      return Internal(w.name + ": the plan gives rank " + std::to_string(rank_) + " none of it");
    return *m;
  }

  std::vector<float> Vector(const std::vector<float>& v) {
    out_->vector_bytes += static_cast<int64_t>(v.size() * sizeof(float));
    return v;
  }

  Result<MlpWeights> Mlp(const MlpWeights& w) {
    MlpWeights m;
    DSV32_ASSIGN_OR_RETURN(m.gate_proj, Held(w.gate_proj));
    DSV32_ASSIGN_OR_RETURN(m.up_proj, Held(w.up_proj));
    DSV32_ASSIGN_OR_RETURN(m.down_proj, Held(w.down_proj));
    return m;
  }

  Result<MlaWeights> Attention(const MlaWeights& w) {
    MlaWeights a;
    if (w.q_proj) {
      DSV32_ASSIGN_OR_RETURN(a.q_proj, Held(*w.q_proj));
    } else {
      DSV32_ASSIGN_OR_RETURN(a.q_a_proj, Held(w.q_a_proj));
      a.q_a_layernorm = Vector(w.q_a_layernorm);
      DSV32_ASSIGN_OR_RETURN(a.q_b_proj, Held(w.q_b_proj));
    }
    DSV32_ASSIGN_OR_RETURN(a.kv_a_proj_with_mqa, Held(w.kv_a_proj_with_mqa));
    a.kv_a_layernorm = Vector(w.kv_a_layernorm);
    DSV32_ASSIGN_OR_RETURN(a.kv_b_proj, Held(w.kv_b_proj));
    DSV32_ASSIGN_OR_RETURN(a.o_proj, Held(w.o_proj));
    if (w.indexer) {
      IndexerWeights i;
      DSV32_ASSIGN_OR_RETURN(i.wq_b, Held(w.indexer->wq_b));
      DSV32_ASSIGN_OR_RETURN(i.wk, Held(w.indexer->wk));
      DSV32_ASSIGN_OR_RETURN(i.weights_proj, Held(w.indexer->weights_proj));
      i.k_norm_weight = Vector(w.indexer->k_norm_weight);
      i.k_norm_bias = Vector(w.indexer->k_norm_bias);
      a.indexer = std::move(i);
    }
    return a;
  }

 private:
  const ShardingPlan& plan_;
  int rank_;
  RankWeights* out_;
  std::unordered_map<std::string, CheckpointTensor> tensors_;
};

}  // namespace

Result<QuantMatrix> SliceMatrix(const QuantMatrix& w, IndexRange rows, IndexRange cols,
                                std::vector<std::unique_ptr<std::byte[]>>* storage) {
  if (rows.begin < 0 || rows.end > w.rows || rows.size() <= 0 || cols.begin < 0 ||
      cols.end > w.cols || cols.size() <= 0)
    return OutOfRange(w.name + ": slice [" + std::to_string(rows.begin) + ", " +
                      std::to_string(rows.end) + ") x [" + std::to_string(cols.begin) + ", " +
                      std::to_string(cols.end) + ") is not inside " + std::to_string(w.rows) +
                      " x " + std::to_string(w.cols));
  if (w.format == WeightFormat::kInt4)
    return Unsupported(w.name + ": slicing packed INT4 weights over a mesh is not supported; "
                                "run the mesh on the FP8 or BF16 checkpoint");
  QuantMatrix m;
  m.name = w.name;
  m.format = w.format;
  m.rows = rows.size();
  m.cols = cols.size();
  const int64_t elem = ElementBytes(w.format);
  const size_t row_bytes = static_cast<size_t>(m.cols * elem);
  auto data = std::make_unique<std::byte[]>(static_cast<size_t>(m.rows) * row_bytes);
  const auto* src = static_cast<const std::byte*>(w.data);
  for (int64_t r = 0; r < m.rows; ++r)
    std::memcpy(data.get() + r * row_bytes, src + ((rows.begin + r) * w.cols + cols.begin) * elem,
                row_bytes);
  m.data = data.get();
  storage->push_back(std::move(data));
  if (w.format != WeightFormat::kFp8Block) return m;

  m.block_rows = SliceBlock(w.block_rows, rows.begin);
  m.block_cols = SliceBlock(w.block_cols, cols.begin);
  const int64_t sr = m.scale_rows(), sc = m.scale_cols();
  auto scales = std::make_unique<std::byte[]>(static_cast<size_t>(sr * sc) * sizeof(float));
  auto* s = reinterpret_cast<float*>(scales.get());
  for (int64_t i = 0; i < sr; ++i)
    for (int64_t j = 0; j < sc; ++j)
      s[i * sc + j] = w.scales[((rows.begin + i * m.block_rows) / w.block_rows) * w.scale_cols() +
                               (cols.begin + j * m.block_cols) / w.block_cols];
  m.scales = s;
  storage->push_back(std::move(scales));
  return m;
}

Result<std::unique_ptr<RankWeights>> SliceWeightsForRank(const ModelConfig& config,
                                                         const ModelWeights& weights,
                                                         const ShardingPlan& plan, int rank) {
  auto out = std::make_unique<RankWeights>();
  const MeshShape& mesh = plan.mesh();
  out->config = config;
  out->mesh = mesh;
  out->coord = mesh.CoordOf(rank);
  const IndexRange heads = plan.attention_heads(out->coord.tp);
  out->attention_config = config;
  out->attention_config.num_attention_heads = heads.size();
  out->vocab = plan.vocab_rows(out->coord.tp);
  out->experts = plan.routed_experts(out->coord.ep);
  for (int e = 0; e < mesh.ep; ++e) out->experts_of_ep.push_back(plan.routed_experts(e));
  out->experts_split_over_tp = plan.options().split_experts_over_tp;
  out->indexer_split_over_tp = config.has_indexer && plan.options().split_indexer_over_tp;

  Slicer slicer(config, plan, rank, out.get());
  DSV32_ASSIGN_OR_RETURN(out->embed_tokens, slicer.Held(weights.embed_tokens));
  out->norm = slicer.Vector(weights.norm);
  DSV32_ASSIGN_OR_RETURN(out->lm_head, slicer.Held(weights.lm_head));
  for (const LayerWeights& lw : weights.layers) {
    RankLayerWeights l;
    l.input_layernorm = slicer.Vector(lw.input_layernorm);
    l.post_attention_layernorm = slicer.Vector(lw.post_attention_layernorm);
    DSV32_ASSIGN_OR_RETURN(l.self_attn, slicer.Attention(lw.self_attn));
    l.is_moe = lw.is_moe;
    if (!lw.is_moe) {
      DSV32_ASSIGN_OR_RETURN(l.mlp, slicer.Mlp(lw.mlp));
    } else {
      DSV32_ASSIGN_OR_RETURN(l.router.gate, slicer.Held(lw.moe.router.gate));
      l.router.e_score_correction_bias = slicer.Vector(lw.moe.router.e_score_correction_bias);
      if (lw.moe.shared) {
        DSV32_ASSIGN_OR_RETURN(MlpWeights shared, slicer.Mlp(*lw.moe.shared));
        l.shared = std::move(shared);
      }
      for (int64_t e = out->experts.begin; e < out->experts.end; ++e) {
        DSV32_ASSIGN_OR_RETURN(MlpWeights expert,
                               slicer.Mlp(lw.moe.experts[static_cast<size_t>(e)]));
        l.experts.push_back(std::move(expert));
      }
    }
    out->layers.push_back(std::move(l));
  }
  return out;
}

}  // namespace dsv32
