#include "moe/router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsv32 {

void SelectExperts(const ModelConfig& c, const float* scores, const float* bias, int32_t* ids,
                   float* weights) {
  const int64_t n = c.n_routed_experts;
  const int64_t per_group = n / c.n_group;
  std::vector<float> biased(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) biased[static_cast<size_t>(e)] = scores[e] + bias[e];

  // Rate each group by the sum of its two best biased scores.
  std::vector<float> group_score(static_cast<size_t>(c.n_group));
  for (int64_t g = 0; g < c.n_group; ++g) {
    const float* s = &biased[static_cast<size_t>(g * per_group)];
    float best = -std::numeric_limits<float>::infinity(), second = best;
    for (int64_t j = 0; j < per_group; ++j) {
      if (s[j] > best) {
        second = best;
        best = s[j];
      } else if (s[j] > second) {
        second = s[j];
      }
    }
    group_score[static_cast<size_t>(g)] = best + second;
  }
  std::vector<int64_t> groups(static_cast<size_t>(c.n_group));
  std::iota(groups.begin(), groups.end(), 0);
  std::partial_sort(groups.begin(), groups.begin() + c.topk_group, groups.end(),
                    [&](int64_t a, int64_t b) {
                      return group_score[static_cast<size_t>(a)] > group_score[static_cast<size_t>(b)] ||
                             (group_score[static_cast<size_t>(a)] == group_score[static_cast<size_t>(b)] && a < b);
                    });

  std::vector<int32_t> candidates;
  for (int64_t gi = 0; gi < c.topk_group; ++gi)
    for (int64_t j = 0; j < per_group; ++j)
      candidates.push_back(static_cast<int32_t>(groups[static_cast<size_t>(gi)] * per_group + j));
  const auto k = static_cast<size_t>(c.num_experts_per_tok);
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k),
                    candidates.end(), [&](int32_t a, int32_t b) {
                      return biased[static_cast<size_t>(a)] > biased[static_cast<size_t>(b)] ||
                             (biased[static_cast<size_t>(a)] == biased[static_cast<size_t>(b)] && a < b);
                    });
  candidates.resize(k);
  std::sort(candidates.begin(), candidates.end());

  // Weights come from the unbiased scores.
  float sum = 0.0f;
  for (size_t j = 0; j < k; ++j) sum += scores[candidates[j]];
  const float norm = c.norm_topk_prob ? sum + 1e-20f : 1.0f;
  for (size_t j = 0; j < k; ++j) {
    ids[j] = candidates[j];
    weights[j] = scores[candidates[j]] / norm * static_cast<float>(c.routed_scaling_factor);
  }
}

Routing Route(const ModelConfig& c, const RouterWeights& w, const float* x, int64_t tokens,
              ThreadPool* pool) {
  const int64_t n = c.n_routed_experts;
  std::vector<float> scores(static_cast<size_t>(tokens * n));
  MatMul(w.gate, x, tokens, scores.data(), pool);
  for (float& s : scores) s = 1.0f / (1.0f + std::exp(-s));

  Routing r;
  r.k = c.num_experts_per_tok;
  r.expert_ids.resize(static_cast<size_t>(tokens * r.k));
  r.weights.resize(static_cast<size_t>(tokens * r.k));
  for (int64_t t = 0; t < tokens; ++t)
    SelectExperts(c, &scores[static_cast<size_t>(t * n)], w.e_score_correction_bias.data(),
                  &r.expert_ids[static_cast<size_t>(t * r.k)], &r.weights[static_cast<size_t>(t * r.k)]);
  return r;
}

}  // namespace dsv32
