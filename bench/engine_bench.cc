// N concurrent synthetic requests through the engine: aggregate generated
// tokens per second, TTFT and TPOT at concurrency 1, 4, 16 and 64, and how
// far continuous batching lifts throughput over one request at a time.
//
// The model is a random-weight checkpoint of configs/bench-engine.json
// (written once to a temporary directory), or the directory named by
// DSV32_BENCH_MODEL. DSV32_BENCH_PROMPT / DSV32_BENCH_GEN set the prompt and
// generation lengths (16 each by default).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  static std::shared_ptr<const Model> model = [] () -> std::shared_ptr<const Model> {
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
      Status s = WriteRandomCheckpoint(text.str(), dir, {});
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

double g_single_tokens_per_second = 0.0;

void BM_ConcurrentRequests(benchmark::State& state) {
  auto model = BenchModel();
  if (!model) {
    state.SkipWithError("no model");
    return;
  }
  const auto concurrency = static_cast<int>(state.range(0));
  const int prompt_len = EnvInt("DSV32_BENCH_PROMPT", 16);
  const int gen_len = EnvInt("DSV32_BENCH_GEN", 16);
  EngineMetrics m;
  double seconds = 0.0;
  for (auto _ : state) {
    EngineOptions o;
    o.max_context = prompt_len + gen_len;
    o.max_running = 64;
    o.max_batch_tokens = 1024;
    auto engine = Engine::Create(model, o);
    if (!engine.ok()) {
      state.SkipWithError(engine.status().message().c_str());
      return;
    }
    std::vector<RequestId> ids;
    const auto start = std::chrono::steady_clock::now();
    (*engine)->Start();
    for (int r = 0; r < concurrency; ++r) {
      RequestSpec spec;
      for (int i = 0; i < prompt_len; ++i)
        spec.prompt.push_back(static_cast<int32_t>((r * 7919 + i * 104729) %
                                                   model->config().vocab_size));
      spec.sampling.temperature = 0.0f;
      spec.max_tokens = gen_len;
      spec.lane = Lane::kCompute;
      ids.push_back((*engine)->Submit(std::move(spec)).value());
    }
    for (RequestId id : ids) (void)(*engine)->Wait(id, std::chrono::hours(1));
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    (*engine)->Stop();
    m = (*engine)->Metrics();
  }
  const double tokens_per_second = static_cast<double>(m.generated_tokens) / seconds;
  if (concurrency == 1) g_single_tokens_per_second = tokens_per_second;
  state.counters["tokens_per_s"] = tokens_per_second;
  state.counters["ttft_mean_s"] = m.ttft.mean();
  state.counters["tpot_mean_s"] = m.tpot.mean();
  state.counters["mean_batch_tokens"] = m.mean_batch_tokens();
  if (g_single_tokens_per_second > 0)
    state.counters["speedup_vs_c1"] = tokens_per_second / g_single_tokens_per_second;
}

BENCHMARK(BM_ConcurrentRequests)
    ->Arg(1)->Arg(4)->Arg(16)->Arg(64)
    ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
}  // namespace dsv32

BENCHMARK_MAIN();
