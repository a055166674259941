// dsv32 bench: end-to-end prefill and decode speed on a model directory, and
// what bounds decode: the weight bytes each token reads.
//
// With --json it prints one JSON object (keys prefill_tokens_per_s,
// decode_tokens_per_s, decode_bytes_per_token, decode_gb_per_s, ...) and
// nothing else on stdout; tools depend on those keys.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "args.h"
#include "command.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/model_info.h"

namespace dsv32::cli {
namespace {

using Clock = std::chrono::steady_clock;

int RunBench(int argc, char** argv) {
  Args args(argc, argv, {"model", "prompt-len", "gen-len", "threads"}, {"json"});
  const std::string dir = args.Require("model");
  const int64_t prompt_len = args.Int("prompt-len", 128);
  const int64_t gen_len = args.Int("gen-len", 32);
  const int64_t threads = args.Int("threads", 0);
  if (!args.ok()) return Fail("bench", args.error());
  if (prompt_len < 1 || gen_len < 1 || threads < 0)
    return Fail("bench", "--prompt-len and --gen-len must be >= 1, --threads >= 0");

  auto model = Model::Load(dir);
  if (!model.ok()) return Fail("bench", model.status().message());
  const ModelConfig& c = (*model)->config();
  if (prompt_len + gen_len > c.max_position_embeddings)
    return Fail("bench", "prompt and generation exceed max_position_embeddings");
  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());

  // A fixed pseudo-random prompt: speed does not depend on the ids, but the
  // router's choices do, so keep them reproducible.
  std::vector<int32_t> tokens(static_cast<size_t>(prompt_len));
  uint64_t x = 88172645463325252ull;
  for (auto& t : tokens) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t = static_cast<int32_t>(x % static_cast<uint64_t>(c.vocab_size));
  }
  KvCache cache(c, prompt_len + gen_len);
  ForwardOptions options;
  options.all_logits = false;
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));

  auto t0 = Clock::now();
  Status s = (*model)->Forward(&cache, tokens, 0, &pool, options, logits.data());
  if (!s.ok()) return Fail("bench", s.message());
  const double prefill_s = std::chrono::duration<double>(Clock::now() - t0).count();

  t0 = Clock::now();
  for (int64_t i = 0; i < gen_len; ++i) {
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    tokens.push_back(next);
    s = (*model)->Forward(&cache, std::span(&tokens.back(), 1), static_cast<int64_t>(tokens.size()) - 1,
                          &pool, options, logits.data());
    if (!s.ok()) return Fail("bench", s.message());
  }
  const double decode_s = std::chrono::duration<double>(Clock::now() - t0).count();

  const double prefill_tps = static_cast<double>(prompt_len) / prefill_s;
  const double decode_tps = static_cast<double>(gen_len) / decode_s;
  const int64_t bytes_per_token = DecodeWeightBytesPerToken(c, (*model)->weights());
  const double gbps = decode_tps * static_cast<double>(bytes_per_token) / 1e9;

  if (args.Has("json")) {
    nlohmann::json j = {{"model", dir},
                        {"threads", pool.size()},
                        {"prompt_len", prompt_len},
                        {"gen_len", gen_len},
                        {"prefill_tokens_per_s", prefill_tps},
                        {"decode_tokens_per_s", decode_tps},
                        {"decode_bytes_per_token", bytes_per_token},
                        {"decode_gb_per_s", gbps},
                        {"prefill_seconds", prefill_s},
                        {"decode_seconds", decode_s}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model           %s (%d threads)\n", dir.c_str(), pool.size());
  std::printf("prefill         %lld tokens in %.3f s: %.1f tokens/s\n",
              static_cast<long long>(prompt_len), prefill_s, prefill_tps);
  std::printf("decode          %lld tokens in %.3f s: %.2f tokens/s\n",
              static_cast<long long>(gen_len), decode_s, decode_tps);
  std::printf("decode reads    %.1f MB of weights per token: %.2f GB/s\n",
              static_cast<double>(bytes_per_token) / 1e6, gbps);
  return 0;
}

DSV32_CLI_COMMAND("bench",
                  "prefill and decode speed (--model DIR [--prompt-len N] [--gen-len M] "
                  "[--threads T] [--json])",
                  RunBench);

}  // namespace
}  // namespace dsv32::cli
