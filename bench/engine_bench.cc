// N concurrent synthetic requests through the engine: aggregate generated
// tokens per second, TTFT and TPOT at concurrency 1, 4, 16 and 64, and how
// far continuous batching lifts throughput over one request at a time.
//
// The model is a random-weight checkpoint of configs/bench-engine.json
// (written once to a temporary directory), or the directory named by
// DSV32_BENCH_MODEL. DSV32_BENCH_PROMPT / DSV32_BENCH_GEN set the prompt and
// generation lengths (16 each by default).
//
// DSV32_BENCH_SPECULATIVE=K adds speculative decoding with K MTP drafts per
// step (the written model then gets the config's one MTP layer, which the
// plain runs leave unused): BM_Speculative with the MTP layer's own drafts
// (random weights: almost none accepted, so it measures the cost of
// drafting and verifying) and BM_SpeculativeOracle with drafts taken from
// the plain run's output, one in DSV32_BENCH_WRONG_EVERY (10) spoiled, for
// what a well-predicting MTP layer would bring.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/engine.h"
#include "model/random_init.h"

namespace dsv32 {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

std::shared_ptr<const Model> BenchModel() {
  static std::shared_ptr<const Model> model = []() -> std::shared_ptr<const Model> {
    std::string dir;
    if (const char* given = std::getenv("DSV32_BENCH_MODEL")) {
      dir = given;
    } else {
      dir = (std::filesystem::temp_directory_path() /
             ("dsv32_engine_bench_" + std::to_string(::getpid())))
                .string();
      std::ifstream in(DSV32_SOURCE_DIR "/configs/bench-engine.json");
      std::stringstream text;
      text << in.rdbuf();
      std::string config = text.str();
      if (EnvInt("DSV32_BENCH_SPECULATIVE", 0) > 0) {
        const std::string none = "\"num_nextn_predict_layers\": 0";
        if (const size_t at = config.find(none); at != std::string::npos)
          config.replace(at, none.size(), "\"num_nextn_predict_layers\": 1");
      }
      Status s = WriteRandomCheckpoint(config, dir, {});
      if (!s.ok()) {
        std::fprintf(stderr, "engine_bench: %s\n", s.message().c_str());
        return nullptr;
      }
    }
    auto loaded = Model::Load(dir);
    if (!std::getenv("DSV32_BENCH_MODEL")) std::filesystem::remove_all(dir);
    if (!loaded.ok()) {
      std::fprintf(stderr, "engine_bench: %s\n", loaded.status().message().c_str());
      return nullptr;
    }
    return std::move(loaded).value();
  }();
  return model;
}

enum class Drafts { kNone, kMtp, kOracle };

double g_single_tokens_per_second = 0.0;
// The plain runs' greedy output by prompt: the oracle's drafts.
std::map<std::vector<int32_t>, std::vector<int32_t>> g_plain_output;

void RunRequests(benchmark::State& state, Drafts drafts) {
  auto model = BenchModel();
  if (!model) {
    state.SkipWithError("no model");
    return;
  }
  const auto concurrency = static_cast<int>(state.range(0));
  const int prompt_len = EnvInt("DSV32_BENCH_PROMPT", 16);
  const int gen_len = EnvInt("DSV32_BENCH_GEN", 16);
  const int wrong_every = std::max(1, EnvInt("DSV32_BENCH_WRONG_EVERY", 10));
  EngineMetrics m;
  double seconds = 0.0;
  for (auto _ : state) {
    EngineOptions o;
    o.max_context = prompt_len + gen_len;
    o.max_running = 64;
    o.max_batch_tokens = 1024;
    if (drafts != Drafts::kNone) o.speculative_tokens = EnvInt("DSV32_BENCH_SPECULATIVE", 0);
    uint64_t drafted = 0;
    if (drafts == Drafts::kOracle)
      o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> out) {
        const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + prompt_len);
        auto it = g_plain_output.find(prompt);
        if (it == g_plain_output.end()) return;
        for (size_t j = 0; j < out.size(); ++j) {
          const size_t at = tokens.size() - static_cast<size_t>(prompt_len) + j;
          if (at >= it->second.size()) break;
          out[j] = it->second[at];
          if (++drafted % static_cast<uint64_t>(wrong_every) == 0)
            out[j] = (out[j] + 1) % static_cast<int32_t>(model->config().vocab_size);
        }
      };
    auto engine = Engine::Create(model, o);
    if (!engine.ok()) {
      state.SkipWithError(engine.status().message().c_str());
      return;
    }
    std::vector<RequestId> ids;
    std::vector<std::vector<int32_t>> prompts;
    const auto start = std::chrono::steady_clock::now();
    (*engine)->Start();
    for (int r = 0; r < concurrency; ++r) {
      RequestSpec spec;
      for (int i = 0; i < prompt_len; ++i)
        spec.prompt.push_back(
            static_cast<int32_t>((r * 7919 + i * 104729) % model->config().vocab_size));
      spec.sampling.temperature = 0.0f;
      spec.max_tokens = gen_len;
      spec.lane = Lane::kCompute;
      prompts.push_back(spec.prompt);
      ids.push_back((*engine)->Submit(std::move(spec)).value());
    }
    for (RequestId id : ids) (void)(*engine)->Wait(id, std::chrono::hours(1));
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    (*engine)->Stop();
    m = (*engine)->Metrics();
    bool same = true;
    for (size_t r = 0; r < ids.size(); ++r) {
      const std::vector<int32_t> out = (*engine)->Poll(ids[r])->generated;
      if (drafts == Drafts::kNone) g_plain_output[prompts[r]] = out;
      auto it = g_plain_output.find(prompts[r]);
      same &= it != g_plain_output.end() && it->second == out;
    }
    if (drafts != Drafts::kNone) state.counters["matches_plain"] = same ? 1 : 0;
  }
  const double tokens_per_second = static_cast<double>(m.generated_tokens) / seconds;
  if (drafts == Drafts::kNone && concurrency == 1) g_single_tokens_per_second = tokens_per_second;
  state.counters["tokens_per_s"] = tokens_per_second;
  state.counters["ttft_mean_s"] = m.ttft.mean();
  state.counters["tpot_mean_s"] = m.tpot.mean();
  state.counters["mean_batch_tokens"] = m.mean_batch_tokens();
  if (g_single_tokens_per_second > 0)
    state.counters["speedup_vs_c1"] = tokens_per_second / g_single_tokens_per_second;
  if (drafts != Drafts::kNone) {
    state.counters["acceptance"] = m.draft_acceptance_rate();
    state.counters["tokens_per_verify"] =
        m.speculative_steps ? static_cast<double>(m.accepted_draft_tokens + m.speculative_steps) /
                                  static_cast<double>(m.speculative_steps)
                            : 0.0;
  }
}

void BM_ConcurrentRequests(benchmark::State& state) { RunRequests(state, Drafts::kNone); }
void BM_Speculative(benchmark::State& state) { RunRequests(state, Drafts::kMtp); }
void BM_SpeculativeOracle(benchmark::State& state) { RunRequests(state, Drafts::kOracle); }

BENCHMARK(BM_ConcurrentRequests)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Arg(64)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

// Registered only when asked for, after the plain runs whose output the
// oracle replays.
const bool g_speculative_registered = [] {
  if (EnvInt("DSV32_BENCH_SPECULATIVE", 0) <= 0) return false;
  for (auto* b : {benchmark::RegisterBenchmark("BM_Speculative", BM_Speculative),
                  benchmark::RegisterBenchmark("BM_SpeculativeOracle", BM_SpeculativeOracle)})
    b->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
  return true;
}();

}  // namespace
}  // namespace dsv32

BENCHMARK_MAIN();
