// DeepSeek-V3's router: sigmoid affinities, a per-expert correction bias that
// steers which experts are chosen (load balancing without an auxiliary loss)
// but not how much they weigh, and group-limited selection: experts come in
// n_group groups, each group is rated by the sum of its two best biased
// scores, and only the topk_group best groups are eligible.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"
#include "quant/matrix.h"

namespace dsv32 {

class ThreadPool;

struct RouterWeights {
  QuantMatrix gate;                            // mlp.gate.weight [n_routed_experts, hidden]
  std::vector<float> e_score_correction_bias;  // [n_routed_experts]
};

// For each token, num_experts_per_tok expert ids (ascending) and their
// weights (normalised if norm_topk_prob, times routed_scaling_factor).
struct Routing {
  int64_t k = 0;
  std::vector<int32_t> expert_ids;  // [tokens, k]
  std::vector<float> weights;       // [tokens, k]
};

Routing Route(const ModelConfig& config, const RouterWeights& w, const float* x, int64_t tokens,
              ThreadPool* pool);

// The selection for one token from its sigmoid scores; exposed for tests.
void SelectExperts(const ModelConfig& config, const float* scores, const float* bias,
                   int32_t* ids, float* weights);

}  // namespace dsv32
