#include "engine/engine_requests.h"

#include <gtest/gtest.h>

#include <utility>

namespace dsv32::testing {

std::vector<int32_t> Prompt(int seed, int n) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back((seed * 131 + i * 17 + 5) % 500);
  return p;
}

RequestSpec Greedy(std::vector<int32_t> prompt, int max_tokens, Lane lane) {
  RequestSpec s;
  s.prompt = std::move(prompt);
  s.sampling.temperature = 0.0f;
  s.max_tokens = max_tokens;
  s.lane = lane;
  return s;
}

void Drain(Engine& engine) {
  for (int i = 0; i < 10000; ++i) {
    auto n = engine.Step();
    ASSERT_TRUE(n.ok()) << n.status().message();
    const EngineMetrics m = engine.Metrics();
    if (m.requests_running == 0 && m.requests_queued == 0) return;
  }
  FAIL() << "the engine did not drain";
}

}  // namespace dsv32::testing
