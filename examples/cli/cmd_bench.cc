// dsv32 bench: end-to-end prefill and decode speed on a model directory, and
// what bounds decode: the weight bytes each token reads.
//
// With --speculative K it also decodes the same greedy continuation with K
// MTP drafts per step and reports that speed and how many drafts the main
// model accepted.
//
// With --json it prints one JSON object (keys prefill_tokens_per_s,
// decode_tokens_per_s, decode_bytes_per_token, decode_gb_per_s, ...; with
// --speculative also speculative_decode_tokens_per_s, draft_acceptance_rate,
// ...) and nothing else on stdout; tools depend on those keys.
//
// With --profile it also splits the decode steps' time by stage of the
// forward pass (attention, dense MLP, MoE, lm_head), each with the weight
// bytes it reads per token and the GB/s that makes: which stage falls short
// of the machine's bandwidth. --json then adds the object decode_profile.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "args.h"
#include "command.h"
#include "core/thread_pool.h"
#include "engine/speculative.h"
#include "model/model.h"
#include "model/model_info.h"
#include "model_loading.h"

namespace dsv32::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Greedy decoding with MTP drafts from the same prompt: the decode time
// counts the steps after the prefill, as plain decoding's does.
struct SpeculativeRun {
  double decode_s = 0.0;
  int64_t generated = 0;
  SpeculativeStats stats;
  std::vector<int32_t> tokens;
};

Result<SpeculativeRun> RunSpeculative(SpeculativeDecoder* decoder,
                                      const std::vector<int32_t>& prompt, int64_t gen_len) {
  DSV32_RETURN_IF_ERROR(decoder->Start(prompt).status());
  SpeculativeRun run;
  const size_t length = prompt.size() + 1 + static_cast<size_t>(gen_len);
  std::vector<int32_t> out;
  const auto t0 = Clock::now();
  while (decoder->tokens().size() < length) DSV32_RETURN_IF_ERROR(decoder->Step(&out));
  run.decode_s = std::chrono::duration<double>(Clock::now() - t0).count();
  run.generated = static_cast<int64_t>(out.size());
  run.stats = decoder->stats();
  run.tokens = decoder->tokens();
  return run;
}

// One stage of the decode profile, per decoded token.
struct StageFigures {
  const char* name;
  double seconds_per_token;
  int64_t bytes_per_token;
  double share;  // of the decode steps' wall time
  double gb_per_s() const {
    return seconds_per_token > 0 ? static_cast<double>(bytes_per_token) / seconds_per_token / 1e9
                                 : 0.0;
  }
};

std::vector<StageFigures> DecodeStages(const ForwardProfile& p, const DecodeStageBytes& bytes,
                                       double decode_s) {
  const double n = static_cast<double>(std::max<int64_t>(1, p.passes));
  const double total = decode_s > 0 ? decode_s : 1.0;
  std::vector<StageFigures> stages = {
      {"embedding", p.embedding_s / n, bytes.embedding, p.embedding_s / total},
      {"attention", p.attention_s / n, bytes.attention, p.attention_s / total},
      {"dense_mlp", p.dense_mlp_s / n, bytes.dense_mlp, p.dense_mlp_s / total},
      {"moe", p.moe_s / n, bytes.moe, p.moe_s / total},
      {"lm_head", p.lm_head_s / n, bytes.lm_head, p.lm_head_s / total},
  };
  // What the passes spent outside the forward (the greedy pick, the loop).
  const double staged = p.embedding_s + p.attention_s + p.dense_mlp_s + p.moe_s + p.lm_head_s;
  const double outside = std::max(0.0, decode_s - staged);
  stages.push_back({"other", outside / n, 0, outside / total});
  return stages;
}

int RunBench(int argc, char** argv) {
  Args args(argc, argv, {"model", "prompt-len", "gen-len", "threads", "speculative", "activations"},
            {"json", "profile"});
  const std::string dir = args.Require("model");
  const int64_t prompt_len = args.Int("prompt-len", 128);
  const int64_t gen_len = args.Int("gen-len", 32);
  const int64_t threads = args.Int("threads", 0);
  const int64_t speculative = args.Int("speculative", 0);
  if (!args.ok()) return Fail("bench", args.error());
  if (prompt_len < 1 || gen_len < 1 || threads < 0 || speculative < 0)
    return Fail("bench",
                "--prompt-len and --gen-len must be >= 1, --threads and --speculative >= 0");

  auto bind = BindOptionsFromArgs(args);
  if (!bind.ok()) return Fail("bench", bind.status().message());
  // The weights are read in before the timed passes, so the prefill does
  // not pay each page's first-touch fault (a server without --populate pays
  // them on its first requests): on the 7168-wide model they were 132
  // thousand faults.
  bind->populate = true;
  auto model = Model::Load(dir, *bind);
  if (!model.ok()) return Fail("bench", model.status().message());
  const ModelConfig& c = (*model)->config();
  if (prompt_len + gen_len > c.max_position_embeddings)
    return Fail("bench", "prompt and generation exceed max_position_embeddings");
  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());
  std::optional<SpeculativeDecoder> decoder;
  if (speculative > 0) {
    SpeculativeOptions so;
    so.draft_tokens = static_cast<int32_t>(std::min<int64_t>(speculative, INT32_MAX));
    so.max_context = prompt_len + 1 + gen_len;
    SamplingParams greedy;
    greedy.temperature = 0.0f;
    auto created = SpeculativeDecoder::Create(**model, greedy, so, &pool);
    if (!created.ok()) return Fail("bench", "--speculative: " + created.status().message());
    decoder.emplace(std::move(created).value());
  }

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

  const std::vector<int32_t> prompt = tokens;
  ForwardProfile profile;
  if (args.Has("profile")) options.profile = &profile;
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
  std::vector<StageFigures> stages;
  if (options.profile)
    stages = DecodeStages(profile, DecodeWeightBytesByStage(c, (*model)->weights()), decode_s);

  SpeculativeRun spec;
  double spec_tps = 0.0, tokens_per_step = 0.0;
  bool same = false;
  if (decoder) {
    auto run = RunSpeculative(&*decoder, prompt, gen_len);
    if (!run.ok()) return Fail("bench", "--speculative: " + run.status().message());
    spec = std::move(run).value();
    spec_tps = static_cast<double>(spec.generated) / spec.decode_s;
    tokens_per_step = static_cast<double>(spec.generated) / static_cast<double>(spec.stats.steps);
    // Greedy either way, so the continuations must agree.
    same = std::equal(tokens.begin(), tokens.end(), spec.tokens.begin());
  }

  if (args.Has("json")) {
    nlohmann::json j = {{"model", dir},
                        {"threads", pool.size()},
                        {"prompt_len", prompt_len},
                        {"gen_len", gen_len},
                        {"activations", ActivationPrecisionName(bind->activations)},
                        {"prefill_tokens_per_s", prefill_tps},
                        {"decode_tokens_per_s", decode_tps},
                        {"decode_bytes_per_token", bytes_per_token},
                        {"decode_gb_per_s", gbps},
                        {"prefill_seconds", prefill_s},
                        {"decode_seconds", decode_s}};
    if (decoder) {
      j["speculative_draft_tokens"] = speculative;
      j["speculative_decode_tokens_per_s"] = spec_tps;
      j["speculative_decode_seconds"] = spec.decode_s;
      j["speculative_speedup"] = spec_tps / decode_tps;
      j["draft_acceptance_rate"] = spec.stats.acceptance_rate();
      j["speculative_tokens_per_step"] = tokens_per_step;
      j["speculative_matches_plain"] = same;
    }
    if (options.profile) {
      nlohmann::json p = nlohmann::json::object();
      for (const StageFigures& f : stages) {
        p[f.name] = {{"seconds_per_token", f.seconds_per_token},
                     {"bytes_per_token", f.bytes_per_token},
                     {"gb_per_s", f.gb_per_s()},
                     {"share_of_decode", f.share}};
      }
      j["decode_profile"] = p;
    }
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model           %s (%d threads, %s activations)\n", dir.c_str(), pool.size(),
              ActivationPrecisionName(bind->activations));
  std::printf("prefill         %lld tokens in %.3f s: %.1f tokens/s\n",
              static_cast<long long>(prompt_len), prefill_s, prefill_tps);
  std::printf("decode          %lld tokens in %.3f s: %.2f tokens/s\n",
              static_cast<long long>(gen_len), decode_s, decode_tps);
  std::printf("decode reads    %.1f MB of weights per token: %.2f GB/s\n",
              static_cast<double>(bytes_per_token) / 1e6, gbps);
  if (!stages.empty()) std::printf("decode stages   ms/token    MB/token   GB/s   share\n");
  for (const StageFigures& f : stages) {
    std::printf("  %-12s %9.2f %11.1f %6.2f %6.1f%%\n", f.name, 1e3 * f.seconds_per_token,
                static_cast<double>(f.bytes_per_token) / 1e6, f.gb_per_s(), 100.0 * f.share);
  }
  if (decoder) {
    std::printf(
        "speculative     %lld tokens in %.3f s: %.2f tokens/s (%.2fx), %lld drafts per step\n",
        static_cast<long long>(spec.generated), spec.decode_s, spec_tps, spec_tps / decode_tps,
        static_cast<long long>(speculative));
    std::printf("drafts          %lld of %lld accepted (%.1f%%), %.2f tokens per main pass%s\n",
                static_cast<long long>(spec.stats.accepted),
                static_cast<long long>(spec.stats.drafted), 100.0 * spec.stats.acceptance_rate(),
                tokens_per_step, same ? "" : "; differs from plain greedy decoding");
  }
  return 0;
}

DSV32_CLI_COMMAND("bench",
                  "prefill and decode speed (--model DIR [--prompt-len N] [--gen-len M] "
                  "[--threads T] [--speculative K] [--activations f32|bf16] [--profile] [--json])",
                  RunBench);

}  // namespace
}  // namespace dsv32::cli
