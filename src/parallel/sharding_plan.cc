#include "parallel/sharding_plan.h"

#include <algorithm>

namespace dsv32 {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Part `i` of `n` of [0, total): equal parts, the first total % n one larger.
IndexRange Balanced(int64_t total, int64_t n, int64_t i) {
  const int64_t base = total / n, extra = total % n;
  const int64_t begin = i * base + std::min(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

IndexRange Scaled(IndexRange r, int64_t unit) { return {r.begin * unit, r.end * unit}; }

IndexRange Blocks(IndexRange r, int64_t block) {
  return {r.begin / block, (r.end + block - 1) / block};
}

Status Divides(int64_t value, const char* field, int64_t parts, const char* axis) {
  if (parts > 0 && value % parts == 0) return Status::Ok();
  return InvalidArgument(std::string(field) + " (" + std::to_string(value) +
                         ") is not divisible by " + axis + " (" + std::to_string(parts) + ")");
}

}  // namespace

const char* ShardKindName(ShardKind kind) {
  switch (kind) {
    case ShardKind::kReplicated:
      return "replicated";
    case ShardKind::kColumnParallel:
      return "column_parallel";
    case ShardKind::kRowParallel:
      return "row_parallel";
    case ShardKind::kVocabParallel:
      return "vocab_parallel";
    case ShardKind::kExpert:
      return "expert";
  }
  return "unknown";
}

Result<ShardingPlan> ShardingPlan::Create(const ModelConfig& config, const MeshShape& mesh,
                                          ShardingOptions options) {
  const std::string where = "sharding over mesh " + mesh.ToString();
  auto check = [&](Status s) { return s.WithContext(where); };
  DSV32_RETURN_IF_ERROR(
      check(Divides(config.num_attention_heads, "num_attention_heads", mesh.tp, "tp")));
  if (config.has_indexer && options.split_indexer_over_tp)
    DSV32_RETURN_IF_ERROR(check(Divides(config.index_n_heads, "index_n_heads", mesh.tp, "tp")));
  DSV32_RETURN_IF_ERROR(
      check(Divides(config.intermediate_size, "intermediate_size", mesh.tp, "tp")));
  if (config.n_routed_experts > 0) {
    DSV32_RETURN_IF_ERROR(
        check(Divides(config.n_routed_experts, "n_routed_experts", mesh.ep, "ep")));
    if (config.n_shared_experts > 0)
      DSV32_RETURN_IF_ERROR(
          check(Divides(config.moe_intermediate_size * config.n_shared_experts,
                        "moe_intermediate_size x n_shared_experts", mesh.tp, "tp")));
    if (options.split_experts_over_tp)
      DSV32_RETURN_IF_ERROR(
          check(Divides(config.moe_intermediate_size, "moe_intermediate_size", mesh.tp, "tp")));
  } else if (mesh.ep > 1) {
    return InvalidArgument(where + ": ep > 1 needs routed experts, the model has none");
  }
  if (options.split_vocab_over_tp && config.vocab_size < mesh.tp)
    return InvalidArgument(where + ": vocab_size is smaller than tp");
  ShardingPlan plan;
  plan.config_ = config;
  plan.mesh_ = mesh;
  plan.options_ = options;
  return plan;
}

IndexRange ShardingPlan::attention_heads(int tp_rank) const {
  return Balanced(config_.num_attention_heads, mesh_.tp, tp_rank);
}
IndexRange ShardingPlan::indexer_heads(int tp_rank) const {
  if (!options_.split_indexer_over_tp) return {0, config_.index_n_heads};
  return Balanced(config_.index_n_heads, mesh_.tp, tp_rank);
}
IndexRange ShardingPlan::routed_experts(int ep_rank) const {
  return Balanced(config_.n_routed_experts, mesh_.ep, ep_rank);
}
IndexRange ShardingPlan::vocab_rows(int tp_rank) const {
  return options_.split_vocab_over_tp ? Balanced(config_.vocab_size, mesh_.tp, tp_rank)
                                      : IndexRange{0, config_.vocab_size};
}

int64_t ShardingPlan::SequencesOwned(int replica, int64_t sequences) const {
  return Balanced(sequences, mesh_.attention_replicas(), replica).size();
}

Result<TensorShard> ShardingPlan::MatrixShard(const std::string& name, int64_t expert, int64_t rows,
                                              int64_t cols, MeshCoord c) const {
  TensorShard s;
  s.rows = {0, rows};
  s.cols = {0, cols};
  const bool matrix = EndsWith(name, ".weight");
  auto column = [&](IndexRange r) {
    s.kind = ShardKind::kColumnParallel;
    s.rows = r;
  };
  auto row = [&](IndexRange r) {
    s.kind = ShardKind::kRowParallel;
    s.cols = r;
  };
  const IndexRange heads = attention_heads(c.tp);
  const int64_t tp = mesh_.tp;

  if (expert >= 0) {
    s.kind = ShardKind::kExpert;
    s.present = routed_experts(c.ep).contains(expert);
    if (options_.split_experts_over_tp) {
      const IndexRange part = Balanced(config_.moe_intermediate_size, tp, c.tp);
      if (EndsWith(name, ".down_proj.weight"))
        s.cols = part;
      else
        s.rows = part;
    }
    return s;
  }
  if (!matrix) return s;
  if (EndsWith(name, "self_attn.q_b_proj.weight") || EndsWith(name, "self_attn.q_proj.weight")) {
    column(Scaled(heads, config_.qk_head_dim()));
  } else if (EndsWith(name, "self_attn.kv_b_proj.weight")) {
    column(Scaled(heads, config_.qk_nope_head_dim + config_.v_head_dim));
  } else if (EndsWith(name, "self_attn.o_proj.weight")) {
    row(Scaled(heads, config_.v_head_dim));
  } else if (EndsWith(name, "indexer.wq_b.weight")) {
    if (options_.split_indexer_over_tp) column(Scaled(indexer_heads(c.tp), config_.index_head_dim));
  } else if (EndsWith(name, "indexer.weights_proj.weight")) {
    if (options_.split_indexer_over_tp) column(indexer_heads(c.tp));
  } else if (EndsWith(name, "mlp.gate_proj.weight") || EndsWith(name, "mlp.up_proj.weight") ||
             EndsWith(name, "shared_experts.gate_proj.weight") ||
             EndsWith(name, "shared_experts.up_proj.weight")) {
    column(Balanced(rows, tp, c.tp));
  } else if (EndsWith(name, "mlp.down_proj.weight") ||
             EndsWith(name, "shared_experts.down_proj.weight")) {
    row(Balanced(cols, tp, c.tp));
  } else if (name == "lm_head.weight" || EndsWith(name, "embed_tokens.weight") ||
             EndsWith(name, "shared_head.head.weight")) {
    if (options_.split_vocab_over_tp) {
      s.kind = ShardKind::kVocabParallel;
      s.rows = vocab_rows(c.tp);
    }
  }
  return s;
}

Result<TensorShard> ShardingPlan::ShardOf(const CheckpointTensor& t, int rank) const {
  if (rank < 0 || rank >= mesh_.size())
    return OutOfRange("rank " + std::to_string(rank) + " is outside mesh " + mesh_.ToString());
  const MeshCoord c = mesh_.CoordOf(rank);
  if (t.shape.size() == 1) {
    // Vectors: norms, biases, the router's correction bias; experts' own
    // vectors would follow the expert, but the checkpoint has none.
    TensorShard s;
    s.rows = {0, t.shape[0]};
    s.cols = {0, 1};
    return s;
  }
  if (t.shape.size() != 2)
    return Unsupported(t.name + ": only vectors and matrices can be sharded");
  if (!t.is_scale) return MatrixShard(t.name, t.expert, t.shape[0], t.shape[1], c);
  // The matrix this scale belongs to, and the blocks its shard touches.
  const std::string matrix = t.name.substr(0, t.name.size() - std::string("_scale_inv").size());
  const int64_t br = config_.quantization.block_rows, bc = config_.quantization.block_cols;
  if (t.scaled_shape.size() != 2)
    return InvalidArgument(t.name + ": scale without its matrix shape");
  DSV32_ASSIGN_OR_RETURN(TensorShard m,
                         MatrixShard(matrix, t.expert, t.scaled_shape[0], t.scaled_shape[1], c));
  m.rows = Blocks(m.rows, br);
  m.cols = Blocks(m.cols, bc);
  m.rows.end = std::min(m.rows.end, t.shape[0]);
  m.cols.end = std::min(m.cols.end, t.shape[1]);
  return m;
}

}  // namespace dsv32
