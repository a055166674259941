// The forward pass of one rank of a TP x EP x DP mesh, over any collective
// backend. Every rank of the mesh calls it once per step, in lockstep; a
// rank whose attention replica has no tokens this step passes none and
// still joins the collectives.
//
//   embedding     each TP rank looks up the vocabulary rows it holds,
//                 all-reduce over TP
//   attention     MLA over this rank's heads (the latent KV cache whole on
//                 every TP rank of the owning replica), o_proj partial sums
//                 all-reduced over TP
//   indexer       this rank's indexer heads score every visible position;
//                 the partial scores ([new tokens x visible positions]) are
//                 all-reduced over TP before the top-k, so every TP rank
//                 selects the same positions (or, planned unsplit, the
//                 whole indexer on every TP rank and no all-reduce)
//   dense FFN     intermediate split over TP, all-reduce over TP
//   MoE           router on every rank; each routed token row travels to
//                 the EP rank holding its expert (ExchangeCounts +
//                 AllToAllV), comes back weighted in the order it left and
//                 is summed per token in expert order, so results do not
//                 depend on timing; shared experts and TP-split experts are
//                 partial sums closed by one all-reduce over TP
//   LM head       each TP rank's vocabulary rows, all-gathered over TP
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "attention/kv_cache.h"
#include "attention/rope.h"
#include "parallel/communicator.h"
#include "parallel/rank_weights.h"

namespace dsv32 {

struct MeshComms {
  Communicator* tp = nullptr;
  Communicator* ep = nullptr;
  Communicator* dp = nullptr;
  // Traffic over the three groups together.
  CommStats stats() const;
};

struct MeshStep {
  KvCache* cache = nullptr;  // this replica's sequence; unused without tokens
  std::span<const int32_t> tokens;
  int64_t first_position = 0;
  bool all_logits = true;
  // If given, receives per layer the positions each new token attended to,
  // as ForwardTrace::indexer_topk does.
  std::vector<std::vector<int32_t>>* indexer_topk = nullptr;
};

// Writes logits ([tokens, vocab], or [1, vocab] without all_logits) when the
// step has tokens; `logits` may be null otherwise.
Status MeshForward(const RankWeights& w, const Rope& rope, const MeshComms& comms,
                   const MeshStep& step, float* logits);

}  // namespace dsv32
