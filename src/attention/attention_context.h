// What one attention layer's forward needs besides its weights.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "attention/rope.h"
#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

class ThreadPool;

// Naive: expand the cached latents into per-head keys and values (cheap when
// many queries share them, as in prefill). Absorbed: move the queries into
// the latent space and attend over the latents directly (cheap per query,
// as in decode). Auto picks naive for several tokens and absorbed for one.
enum class AttentionPath { kAuto, kNaive, kAbsorbed };

// Sums, in place, the index scores of the indexer heads held here with
// those of the heads held elsewhere: the all-reduce over a mesh's TP group
// when the indexer's heads are split across it. Every caller holding a
// share of the heads calls it with the same layout, before the top-k.
using IndexScoreReduce = std::function<Status(std::span<float> scores)>;

struct AttentionContext {
  const ModelConfig* config = nullptr;
  const Rope* rope = nullptr;
  ThreadPool* pool = nullptr;
  AttentionPath path = AttentionPath::kAuto;
  int64_t tokens = 0;          // new tokens this step
  int64_t first_position = 0;  // position of the first new token
  // cos / sin of every new token's position, [tokens, rope_dim / 2] each.
  std::vector<float> cos, sin;
  // Empty when the indexer's weights hold every head (one device, or a mesh
  // keeping the whole indexer on each TP rank); otherwise the indexer scores
  // its own heads and this completes the sums.
  IndexScoreReduce reduce_index_scores;
};

}  // namespace dsv32
