// End-to-end decode and prefill of a whole model, read against the
// machine: decode as weight bytes per second over the measured read
// bandwidth, prefill as flop/s over the measured FMA peak.
//
// The model is $DSV32_BENCH_MODEL (for example one written by
//   dsv32 init-random --config configs/bench-v32-7168.json --out DIR
// at real per-layer width) or, without it, the embedded demo model written
// once under the build folder.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "core/thread_pool.h"
#include "machine_peak.h"
#include "model/demo_config.h"
#include "model/model.h"
#include "model/model_info.h"
#include "model/random_init.h"

namespace dsv32 {
namespace {

struct Machine {
  double bandwidth[3] = {};  // bytes/s by thread count
  double peak[3] = {};       // flop/s by thread count
};

const Machine& MeasuredMachine() {
  static const Machine m = [] {
    Machine r;
    for (int t : {1, 2}) {
      r.bandwidth[t] = MeasureReadBandwidth(t, size_t{1} << 30);
      r.peak[t] = MeasureFmaPeak(t);
    }
    return r;
  }();
  return m;
}

const Model& BenchModel() {
  static const std::unique_ptr<Model> model = [] {
    std::string dir;
    if (const char* env = std::getenv("DSV32_BENCH_MODEL")) {
      dir = env;
    } else {
      dir = std::string(DSV32_BINARY_DIR) + "/bench-models/demo";
      if (!std::filesystem::exists(dir + "/config.json")) {
        Status s = WriteRandomCheckpoint(DemoConfigJson(), dir, {});
        if (!s.ok()) {
          std::fprintf(stderr, "%s\n", s.message().c_str());
          std::exit(1);
        }
      }
    }
    auto m = Model::Load(dir);
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", m.status().message().c_str());
      std::exit(1);
    }
    std::printf("model %s\n", dir.c_str());
    return std::move(m).value();
  }();
  return *model;
}

// Flops of the matmuls one token passes through (two per weight): the
// benchmark models store projections in FP8 (one byte a weight) and the
// head in BF16, so the head is counted by its shape.
double FlopsPerToken(const Model& model) {
  const ModelConfig& c = model.config();
  const double bytes = static_cast<double>(DecodeWeightBytesPerToken(c, model.weights()));
  const double head = static_cast<double>(model.weights().lm_head.bytes());
  const double head_params = static_cast<double>(c.vocab_size * c.hidden_size);
  return 2.0 * ((bytes - head) + head_params);
}

void BM_Decode(benchmark::State& state) {
  const Model& model = BenchModel();
  const int threads = static_cast<int>(state.range(0));
  const int64_t context = state.range(1);
  ThreadPool pool(threads);
  KvCache cache(model.config(), context + 1);
  std::vector<int32_t> prompt(static_cast<size_t>(context));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(i * 7919 % 1000);
  ForwardOptions options;
  options.all_logits = false;
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  if (!model.Forward(&cache, prompt, 0, &pool, options, logits.data()).ok()) {
    state.SkipWithError("prefill failed");
    return;
  }
  const int32_t token = 42;
  for (auto _ : state) {
    // Each iteration decodes position `context` again: a fixed context size.
    if (!model.Forward(&cache, std::span(&token, 1), context, &pool, options, logits.data()).ok()) {
      state.SkipWithError("decode failed");
      return;
    }
  }
  const double bytes = static_cast<double>(DecodeWeightBytesPerToken(model.config(), model.weights()));
  const auto n = static_cast<double>(state.iterations());
  state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(bytes * n / 1e9, benchmark::Counter::kIsRate);
  state.counters["pct_of_bw"] = benchmark::Counter(
      100.0 * bytes * n / MeasuredMachine().bandwidth[threads],
      benchmark::Counter::kIsRate);
}

void BM_Prefill(benchmark::State& state) {
  const Model& model = BenchModel();
  const int threads = static_cast<int>(state.range(0));
  const int64_t tokens = state.range(1);
  ThreadPool pool(threads);
  std::vector<int32_t> prompt(static_cast<size_t>(tokens));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(i * 7919 % 1000);
  ForwardOptions options;
  options.all_logits = false;
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  for (auto _ : state) {
    KvCache cache(model.config(), tokens);
    if (!model.Forward(&cache, prompt, 0, &pool, options, logits.data()).ok()) {
      state.SkipWithError("prefill failed");
      return;
    }
  }
  // The lm_head runs for the last token only.
  const double head = 2.0 * static_cast<double>(model.config().vocab_size * model.config().hidden_size);
  const double flops = (FlopsPerToken(model) - head) * static_cast<double>(tokens) + head;
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens * state.iterations()),
                                                  benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.counters["pct_of_peak"] = benchmark::Counter(
      100.0 * flops * static_cast<double>(state.iterations()) / MeasuredMachine().peak[threads],
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Decode)->ArgNames({"threads", "context"})->Args({1, 64})->Args({2, 64})->Args({2, 1024})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_Prefill)->ArgNames({"threads", "tokens"})->Args({2, 128})->Args({2, 512})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const auto& m = dsv32::MeasuredMachine();
  std::printf("read bandwidth: 1 thread %.2f GB/s, 2 threads %.2f GB/s; f32 FMA peak: 1 thread %.1f "
              "GFLOP/s, 2 threads %.1f GFLOP/s\n",
              m.bandwidth[1] / 1e9, m.bandwidth[2] / 1e9, m.peak[1] / 1e9, m.peak[2] / 1e9);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
