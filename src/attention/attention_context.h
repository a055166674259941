// What one attention layer's forward needs besides its weights.
#pragma once

#include <cstdint>
#include <vector>

#include "attention/rope.h"
#include "core/config.h"

namespace dsv32 {

class ThreadPool;

// Naive: expand the cached latents into per-head keys and values (cheap when
// many queries share them, as in prefill). Absorbed: move the queries into
// the latent space and attend over the latents directly (cheap per query,
// as in decode). Auto picks naive for several tokens and absorbed for one.
enum class AttentionPath { kAuto, kNaive, kAbsorbed };

struct AttentionContext {
  const ModelConfig* config = nullptr;
  const Rope* rope = nullptr;
  ThreadPool* pool = nullptr;
  AttentionPath path = AttentionPath::kAuto;
  int64_t tokens = 0;          // new tokens this step
  int64_t first_position = 0;  // position of the first new token
  // cos / sin of every new token's position, [tokens, rope_dim / 2] each.
  std::vector<float> cos, sin;
};

}  // namespace dsv32
