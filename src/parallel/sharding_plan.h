// Which part of the model each rank of a TP x EP x DP mesh owns, as data:
// attention and indexer heads per TP rank, routed experts per EP rank,
// sequences per attention replica, and for every checkpoint tensor the rows
// and columns a rank holds. The mesh forward pass loads and runs exactly
// these shards; the planner sums their bytes.
//
// Placement (the Megatron / SGLang layout):
// - MLA's q_b_proj (q_proj) and kv_b_proj are column-parallel: each TP rank
//   holds the output rows of its heads. o_proj is row-parallel: the input
//   columns of its heads, with an all-reduce over the TP group after it.
//   The latent projections (q_a_proj, kv_a_proj_with_mqa) and their norms
//   are replicated, so every TP rank keeps the whole latent KV cache.
// - The indexer's wq_b and weights_proj are split by indexer head; its wk
//   and k_norm (one key head) are replicated. Each TP rank scores its heads,
//   and an all-reduce of the scores precedes the top-k.
// - Dense FFN and shared experts: gate/up column-parallel, down
//   row-parallel, summed by the same all-reduce as the routed experts.
// - Routed experts: each EP rank holds a contiguous range of whole experts,
//   tokens travel to them by all-to-all. With split_experts_over_tp (the
//   default) each expert is further split over the TP group like the shared
//   expert, so an EP rank's experts are spread over its TP group rather
//   than copied onto each of its ranks.
// - Embeddings and LM heads are split by vocabulary rows over TP.
// - Attention is data-parallel over the EP and DP axes: every (ep, dp)
//   pair is an attention replica that owns its sequences and their KV cache.
// - Everything else (norms, router, eh_proj) is replicated.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "parallel/mesh_shape.h"
#include "model/weight_catalog.h"

namespace dsv32 {

struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
  bool operator==(const IndexRange&) const = default;
};

enum class ShardKind {
  kReplicated,
  kColumnParallel,  // output rows split over TP
  kRowParallel,     // input columns split over TP
  kVocabParallel,   // embedding / head rows split over TP
  kExpert,          // a routed expert: only on its EP rank (and maybe split over TP)
};
const char* ShardKindName(ShardKind kind);

struct TensorShard {
  ShardKind kind = ShardKind::kReplicated;
  bool present = true;  // false: this rank holds none of the tensor
  IndexRange rows;      // of the tensor as stored (a scale's rows are blocks)
  IndexRange cols;
  int64_t numel() const { return present ? rows.size() * cols.size() : 0; }
};

struct ShardingOptions {
  bool split_experts_over_tp = true;
  bool split_vocab_over_tp = true;
  // Off: every TP rank keeps the whole indexer and scores all its heads,
  // trading its weights for the all-reduce of the scores.
  bool split_indexer_over_tp = true;
};

class ShardingPlan {
 public:
  // Checks every divisibility the layout needs; the error names the field.
  static Result<ShardingPlan> Create(const ModelConfig& config, const MeshShape& mesh,
                                     ShardingOptions options = {});

  const MeshShape& mesh() const { return mesh_; }
  const ShardingOptions& options() const { return options_; }

  IndexRange attention_heads(int tp_rank) const;
  IndexRange indexer_heads(int tp_rank) const;
  IndexRange routed_experts(int ep_rank) const;
  IndexRange vocab_rows(int tp_rank) const;
  // The attention replica (see MeshShape::AttentionReplicaOf) that owns a
  // sequence: round-robin, so concurrent sequences spread evenly.
  int SequenceOwner(int64_t sequence) const {
    return static_cast<int>(sequence % mesh_.attention_replicas());
  }
  // How many of `sequences` concurrent ones a replica owns.
  int64_t SequencesOwned(int replica, int64_t sequences) const;

  // The part of a tensor (from CheckpointTensors of the same config) that
  // `rank` holds. A scale tensor follows its matrix: the blocks covering the
  // matrix rows/columns held, so a shard boundary inside a 128-block leaves
  // that block's scale on both neighbours.
  Result<TensorShard> ShardOf(const CheckpointTensor& tensor, int rank) const;

 private:
  ShardingPlan() = default;
  // The shard of an unscaled matrix of shape [rows, cols].
  Result<TensorShard> MatrixShard(const std::string& name, int64_t expert, int64_t rows,
                                  int64_t cols, MeshCoord c) const;

  ModelConfig config_;
  MeshShape mesh_;
  ShardingOptions options_;
};

}  // namespace dsv32
