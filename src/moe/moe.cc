#include "moe/moe.h"

#include <algorithm>

#include "core/ops.h"

namespace dsv32 {

ExpertLoad::ExpertLoad(int64_t layers, int64_t experts)
    : layers_(layers), experts_(experts), counts_(static_cast<size_t>(layers * experts)) {}

void ExpertLoad::Add(int64_t layer, const Routing& routing) {
  if (layer < 0 || layer >= layers_) return;
  for (int32_t e : routing.expert_ids)
    counts_[static_cast<size_t>(layer * experts_ + e)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t ExpertLoad::count(int64_t layer, int64_t expert) const {
  return counts_[static_cast<size_t>(layer * experts_ + expert)].load(std::memory_order_relaxed);
}

void ExpertLoad::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
}

void MoeForward(const ModelConfig& c, const MoeWeights& w, const float* x, int64_t tokens,
                float* out, ThreadPool* pool, Routing* routing_out) {
  const int64_t hidden = c.hidden_size;
  Routing routing = Route(c, w.router, x, tokens, pool);

  // Gather the tokens of each expert so it runs once over all of them.
  std::vector<std::vector<std::pair<int64_t, float>>> assigned(w.experts.size());
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < routing.k; ++j) {
      const size_t slot = static_cast<size_t>(t * routing.k + j);
      assigned[static_cast<size_t>(routing.expert_ids[slot])].emplace_back(t, routing.weights[slot]);
    }

  if (w.shared) {
    MlpForward(*w.shared, x, tokens, out, pool);
  } else {
    std::fill(out, out + tokens * hidden, 0.0f);
  }
  std::vector<float> xs, ys;
  for (size_t e = 0; e < assigned.size(); ++e) {
    const auto& list = assigned[e];
    if (list.empty()) continue;
    const auto n = static_cast<int64_t>(list.size());
    xs.resize(static_cast<size_t>(n * hidden));
    ys.resize(static_cast<size_t>(n * hidden));
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(x + list[static_cast<size_t>(i)].first * hidden, hidden, &xs[static_cast<size_t>(i * hidden)]);
    MlpForward(w.experts[e], xs.data(), n, ys.data(), pool);
    for (int64_t i = 0; i < n; ++i)
      Axpy(list[static_cast<size_t>(i)].second, &ys[static_cast<size_t>(i * hidden)],
           out + list[static_cast<size_t>(i)].first * hidden, hidden);
  }
  if (routing_out) *routing_out = std::move(routing);
}

}  // namespace dsv32
