// A mixture-of-experts block: routed experts chosen per token by the router,
// plus shared experts every token passes through.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "moe/mlp.h"
#include "moe/router.h"

namespace dsv32 {

struct MoeWeights {
  RouterWeights router;
  std::vector<MlpWeights> experts;    // n_routed_experts
  std::optional<MlpWeights> shared;   // the n_shared_experts fused into one MLP
};

// Tokens routed to each expert, per MoE layer, since the counters were made
// (or last reset): to watch expert load and drift.
class ExpertLoad {
 public:
  ExpertLoad(int64_t layers, int64_t experts);
  void Add(int64_t layer, const Routing& routing);
  uint64_t count(int64_t layer, int64_t expert) const;
  int64_t layers() const { return layers_; }
  int64_t experts() const { return experts_; }
  void Reset();

 private:
  int64_t layers_, experts_;
  std::vector<std::atomic<uint64_t>> counts_;
};

// x [tokens, hidden] -> out [tokens, hidden]. `routing_out`, if given,
// receives the router's choice.
void MoeForward(const ModelConfig& config, const MoeWeights& w, const float* x, int64_t tokens,
                float* out, ThreadPool* pool, Routing* routing_out);

}  // namespace dsv32
