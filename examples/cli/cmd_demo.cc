// dsv32 demo: the main job on the embedded default model. Writes the
// random-weight demo checkpoint on first use, then prefills a prompt and
// decodes greedily through the KV cache, reporting speed. The weights are
// random, so the tokens are noise; the machinery is the real one.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "args.h"
#include "command.h"
#include "core/thread_pool.h"
#include "model/demo_config.h"
#include "model/model.h"
#include "model/random_init.h"

namespace dsv32::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

int RunDemo(int argc, char** argv) {
  Args args(argc, argv, {"out", "tokens", "threads"}, {});
  const std::string dir = args.Get("out").value_or("dsv32-demo-model");
  const int64_t n_new = args.Int("tokens", 32);
  const int64_t threads = args.Int("threads", 0);
  if (!args.ok()) return Fail("demo", args.error());
  if (n_new < 1) return Fail("demo", "--tokens must be at least 1");

  if (!std::filesystem::exists(dir + "/config.json")) {
    std::printf("writing the embedded demo model (random weights, FP8) to %s ...\n", dir.c_str());
    Status s = WriteRandomCheckpoint(DemoConfigJson(), dir, {});
    if (!s.ok()) return Fail("demo", s.message());
  }
  auto t0 = Clock::now();
  auto model = Model::Load(dir);
  if (!model.ok()) return Fail("demo", model.status().message());
  const ModelConfig& c = (*model)->config();
  std::printf("loaded %s: %s, %lld layers, hidden %lld, %lld experts, in %.2f s\n", dir.c_str(),
              c.model_type.c_str(), static_cast<long long>(c.num_hidden_layers),
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.n_routed_experts),
              Seconds(t0));

  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());
  std::vector<int32_t> tokens(16);
  std::iota(tokens.begin(), tokens.end(), 100);
  KvCache cache(c, static_cast<int64_t>(tokens.size()) + n_new);
  ForwardOptions options;
  options.all_logits = false;
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));

  t0 = Clock::now();
  Status s = (*model)->Forward(&cache, tokens, 0, &pool, options, logits.data());
  if (!s.ok()) return Fail("demo", s.message());
  const double prefill_s = Seconds(t0);

  std::printf("prompt ids:    ");
  for (int32_t t : tokens) std::printf(" %d", t);
  std::printf("\ngenerated ids: ");
  t0 = Clock::now();
  for (int64_t i = 0; i < n_new; ++i) {
    const auto next = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::printf(" %d", next);
    std::fflush(stdout);
    tokens.push_back(next);
    if (i + 1 == n_new) break;
    s = (*model)->Forward(&cache, std::span(&tokens.back(), 1),
                          static_cast<int64_t>(tokens.size()) - 1, &pool, options, logits.data());
    if (!s.ok()) return Fail("demo", s.message());
  }
  const double decode_s = Seconds(t0);
  std::printf("\nprefill %.1f tokens/s, decode %.1f tokens/s (%d threads)\n",
              16.0 / prefill_s, static_cast<double>(n_new - 1) / std::max(decode_s, 1e-9),
              pool.size());
  std::printf("note: the demo model's weights are random, so what it generates is noise.\n");
  return 0;
}

DSV32_CLI_COMMAND("demo", "run the embedded random-weight demo model ([--out DIR] [--tokens N])",
                  RunDemo);

}  // namespace
}  // namespace dsv32::cli
