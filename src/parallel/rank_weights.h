// The weights one rank of a TP x EP x DP mesh holds, cut from a loaded
// model by its ShardingPlan and copied into the rank's own buffers, as a
// device would hold them. Every matrix keeps its stored format: an FP8
// slice stays FP8 bytes with its block scales, and where a slice boundary
// falls inside a scale block the slice gets a finer block grid (the gcd of
// block and offset) with the scales repeated, so the slice is an ordinary
// QuantMatrix that every kernel runs unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "attention/mla.h"
#include "core/config.h"
#include "model/weights.h"
#include "moe/mlp.h"
#include "moe/router.h"
#include "parallel/sharding_plan.h"

namespace dsv32 {

// Row range `rows` and column range `cols` of `w`, copied into `storage`
// (which keeps the bytes alive; the result points into it).
Result<QuantMatrix> SliceMatrix(const QuantMatrix& w, IndexRange rows, IndexRange cols,
                                std::vector<std::unique_ptr<std::byte[]>>* storage);

struct RankLayerWeights {
  std::vector<float> input_layernorm;
  std::vector<float> post_attention_layernorm;
  MlaWeights self_attn;  // this rank's heads (and indexer heads); the latent projections whole
  bool is_moe = false;
  MlpWeights mlp;  // dense layers: this rank's part of the intermediate
  RouterWeights router;
  std::optional<MlpWeights> shared;  // this rank's part of the shared experts
  std::vector<MlpWeights> experts;   // the routed experts of its EP rank, in order
};

struct RankWeights {
  ModelConfig config;            // the whole model's
  ModelConfig attention_config;  // num_attention_heads = this rank's heads
  MeshShape mesh;
  MeshCoord coord;
  IndexRange vocab;    // embedding / lm_head rows held
  IndexRange experts;  // routed experts held (whole or split over TP)
  // Routed expert ranges of every EP rank, to address the token dispatch.
  std::vector<IndexRange> experts_of_ep;
  bool experts_split_over_tp = true;
  // Each TP rank holds its share of the indexer's heads (wq_b and
  // weights_proj rows), so index scores are partial sums over TP.
  bool indexer_split_over_tp = true;

  QuantMatrix embed_tokens;
  std::vector<float> norm;
  QuantMatrix lm_head;
  std::vector<RankLayerWeights> layers;

  // Bytes held: matrix elements as stored, their block scales, and the
  // vectors (norms, biases) kept as f32.
  int64_t matrix_bytes = 0;
  int64_t scale_bytes = 0;
  int64_t vector_bytes = 0;
  int64_t bytes() const { return matrix_bytes + scale_bytes + vector_bytes; }

  std::vector<std::unique_ptr<std::byte[]>> storage;
};

// MTP layers are not part of the mesh forward and are left out.
Result<std::unique_ptr<RankWeights>> SliceWeightsForRank(const ModelConfig& config,
                                                         const ModelWeights& weights,
                                                         const ShardingPlan& plan, int rank);

}  // namespace dsv32
