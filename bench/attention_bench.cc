// One MLA layer of DeepSeek-V3.2 (128 heads, kv_lora_rank 512, rope 64,
// indexer 64 heads x 128, index_topk 2048) with random FP8 weights and an
// fp8_ds_mla cache filled with random entries:
//   BM_Decode/<context>/<dsa>     one decoded token through the whole layer
//   BM_IndexerScan/<context>/<threads>  the indexer's O(L) scan and top-k
//                                 alone: GB/s of keys against the read
//                                 bandwidth, GFLOP/s against the FMA peak
//                                 (both measured first), and the top-k's
//                                 overlap with an f32 scan
//   BM_TopK/<context>             the top-k selection alone
//   BM_AttentionCore/<context>/<dsa>  attention over the latents alone
//   BM_PrefillIndexer/<tokens>/<threads>  prefill's top-k selection for
//                                 every token
//   BM_PrefillAttention/<tokens>/<dsa>  prefill's attention per token
// The 32K prefill points are registered only with DSV32_BENCH_LONG=1.
// BM_Decode includes the layer's projections, whose cost is that of
// quant/matmul, the same at every context length.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <random>

#include "attention/causal_attention.h"
#include "attention/indexer.h"
#include "attention/mla.h"
#include "attention/mla_attention.h"
#include "core/config.h"
#include "core/thread_pool.h"
#include "machine_peak.h"

namespace dsv32 {
namespace {

struct Fp8Matrix {
  std::vector<uint8_t> data;
  std::vector<float> scales;
  QuantMatrix Bind(const std::string& name, int64_t rows, int64_t cols) const {
    QuantMatrix m;
    m.name = name;
    m.format = WeightFormat::kFp8Block;
    m.rows = rows;
    m.cols = cols;
    m.data = data.data();
    m.scales = scales.data();
    return m;
  }
};

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

// Everything one layer needs, built once per process.
struct Layer {
  ModelConfig config;
  std::map<std::string, Fp8Matrix> storage;
  MlaWeights dsa, dense;
  std::unique_ptr<Rope> rope;
  ThreadPool pool{DefaultThreadCount()};

  QuantMatrix Random(const std::string& name, int64_t rows, int64_t cols, std::mt19937& rng) {
    Fp8Matrix& m = storage[name];
    std::normal_distribution<float> normal(0.0f, 100.0f);
    m.data.resize(static_cast<size_t>(rows * cols));
    for (uint8_t& v : m.data) v = F32ToFp8E4M3(normal(rng));
    const int64_t blocks = ((rows + 127) / 128) * ((cols + 127) / 128);
    m.scales.assign(static_cast<size_t>(blocks), 1.0f / (100.0f * std::sqrt(float(cols))));
    return m.Bind(name, rows, cols);
  }

  Layer() {
    config =
        LoadModelConfig(std::string(DSV32_TEST_DATA_DIR) + "/configs/deepseek-v3.2.json").value();
    config.num_hidden_layers = 1;
    const ModelConfig& c = config;
    std::mt19937 rng(7);
    const int64_t H = c.hidden_size, heads = c.num_attention_heads, q_rank = *c.q_lora_rank;
    MlaWeights w;
    w.q_a_proj = Random("q_a", q_rank, H, rng);
    w.q_a_layernorm.assign(static_cast<size_t>(q_rank), 1.0f);
    w.q_b_proj = Random("q_b", heads * c.qk_head_dim(), q_rank, rng);
    w.kv_a_proj_with_mqa = Random("kv_a", c.kv_lora_rank + c.qk_rope_head_dim, H, rng);
    w.kv_a_layernorm.assign(static_cast<size_t>(c.kv_lora_rank), 1.0f);
    w.kv_b_proj = Random("kv_b", heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank, rng);
    w.o_proj = Random("o", H, heads * c.v_head_dim, rng);
    dense = w;
    IndexerWeights iw;
    iw.wq_b = Random("wq_b", c.index_n_heads * c.index_head_dim, q_rank, rng);
    iw.wk = Random("wk", c.index_head_dim, H, rng);
    iw.weights_proj = Random("weights_proj", c.index_n_heads, H, rng);
    iw.k_norm_weight.assign(static_cast<size_t>(c.index_head_dim), 1.0f);
    iw.k_norm_bias.assign(static_cast<size_t>(c.index_head_dim), 0.0f);
    w.indexer = iw;
    dsa = std::move(w);
    rope = std::make_unique<Rope>(config);
  }

  AttentionContext Context(int64_t tokens, int64_t first_position) const {
    AttentionContext ctx;
    ctx.config = &config;
    ctx.rope = rope.get();
    ctx.pool = const_cast<ThreadPool*>(&pool);
    ctx.tokens = tokens;
    ctx.first_position = first_position;
    const int64_t half = config.qk_rope_head_dim / 2;
    ctx.cos.resize(static_cast<size_t>(tokens * half));
    ctx.sin.resize(ctx.cos.size());
    for (int64_t i = 0; i < tokens; ++i)
      rope->Angles(first_position + i, &ctx.cos[i * half], &ctx.sin[i * half]);
    return ctx;
  }

  // A cache of `length` random fp8 entries (room for `capacity`).
  KvCache Cache(int64_t length, int64_t capacity) const {
    KvPoolOptions o;
    o.layout = KvLayout::kFp8;
    o.budget_bytes =
        ((capacity + o.page_tokens - 1) / o.page_tokens) * KvPagePool::PageBytes(config, o);
    KvCache cache(KvPagePool::Create(config, o).value(), config, capacity);
    (void)cache.Reserve(capacity);
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    std::vector<float> latent(static_cast<size_t>(config.kv_lora_rank)),
        rope_key(static_cast<size_t>(config.qk_rope_head_dim)),
        key(static_cast<size_t>(config.index_head_dim));
    for (int64_t t = 0; t < length; ++t) {
      for (float& v : latent) v = normal(rng);
      for (float& v : rope_key) v = normal(rng);
      for (float& v : key) v = normal(rng);
      cache.StoreLatent(0, t, latent.data(), rope_key.data());
      cache.StoreIndexKey(0, t, key.data());
    }
    cache.SetLength(length);
    return cache;
  }

  std::vector<float> Hidden(int64_t tokens) const {
    return RandomVector(tokens * config.hidden_size, 13);
  }
};

Layer& TheLayer() {
  static Layer* layer = new Layer();
  return *layer;
}

void BM_Decode(benchmark::State& state) {
  Layer& layer = TheLayer();
  const int64_t L = state.range(0);
  const bool dsa = state.range(1) != 0;
  KvCache cache = layer.Cache(L - 1, L);
  const AttentionContext ctx = layer.Context(1, L - 1);
  const std::vector<float> x = layer.Hidden(1);
  std::vector<float> out(static_cast<size_t>(layer.config.hidden_size));
  for (auto _ : state) {
    (void)MlaForward(ctx, dsa ? layer.dsa : layer.dense, 0, x.data(), &cache, out.data(), nullptr);
    benchmark::DoNotOptimize(out.data());
  }
}

double g_read_bandwidth[3], g_fma_peak[3];  // by thread count, measured in main
double g_fma_peak_cpu;                      // per second of one thread's CPU time

ThreadPool& Pool(int threads) {
  static ThreadPool* pools[3] = {nullptr, new ThreadPool(1), new ThreadPool(2)};
  return *pools[threads];
}

// Bytes of keys read against the measured read bandwidth, and the
// 2 * heads * dim flops per key against the FMA peak, for `keys` keys per
// iteration on `threads` threads. cpu_GFLOP/s and pct_of_cpu_peak: the same flops per second of CPU
// time (all threads) against the FMA peak per CPU second, which says how well the kernel uses a
// core while it runs even when other processes share it.
void SetScanCounters(benchmark::State& state, const KvCache& cache, double keys, int threads,
                     double cpu_seconds) {
  const ModelConfig& c = TheLayer().config;
  const double bytes = keys * static_cast<double>(cache.format().field(KvField::kIndexKey).bytes());
  const double flops = keys * 2.0 * static_cast<double>(c.index_n_heads * c.index_head_dim);
  using C = benchmark::Counter;
  state.counters["GB/s"] = C(bytes / 1e9, C::kIsIterationInvariantRate);
  state.counters["pct_of_bw"] =
      C(100.0 * bytes / g_read_bandwidth[threads], C::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = C(flops / 1e9, C::kIsIterationInvariantRate);
  state.counters["pct_of_peak"] =
      C(100.0 * flops / g_fma_peak[threads], C::kIsIterationInvariantRate);
  const double per_cpu_second =
      flops * static_cast<double>(state.iterations()) / std::max(cpu_seconds, 1e-9);
  state.counters["cpu_GFLOP/s"] = per_cpu_second / 1e9;
  state.counters["pct_of_cpu_peak"] = 100.0 * per_cpu_second / g_fma_peak_cpu;
}

// The share of the top index_topk positions of the bf16 scan that the f32
// scan also picks.
double TopKOverlapWithF32(const KvCache& cache, const std::vector<float>& q,
                          const std::vector<float>& w, int64_t L) {
  const ModelConfig& c = TheLayer().config;
  std::vector<float> scores(static_cast<size_t>(L)), exact(scores.size());
  IndexerScores(cache, 0, q.data(), w.data(), c.index_n_heads, L, IndexPrecision::kBf16, &Pool(2),
                scores.data());
  IndexerScores(cache, 0, q.data(), w.data(), c.index_n_heads, L, IndexPrecision::kF32, &Pool(2),
                exact.data());
  const std::vector<int32_t> a = TopKPositions(scores.data(), L, c.index_topk);
  const std::vector<int32_t> b = TopKPositions(exact.data(), L, c.index_topk);
  std::vector<int32_t> both;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  return static_cast<double>(both.size()) / static_cast<double>(a.size());
}

// The decode scan of one query over L cached keys and its top-k, in f32
// (the forward's precision) or, with <bf16> = 1, with a bf16 q
// (vdpbf16ps where the CPU has AVX512-BF16), whose top-k is compared with
// the f32 one.
void BM_IndexerScan(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t L = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const IndexPrecision precision = state.range(2) ? IndexPrecision::kBf16 : IndexPrecision::kF32;
  KvCache cache = layer.Cache(L, L);
  const std::vector<float> q = RandomVector(c.index_n_heads * c.index_head_dim, 5);
  const std::vector<float> w = RandomVector(c.index_n_heads, 6);
  std::vector<float> scores(static_cast<size_t>(L));
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    IndexerScores(cache, 0, q.data(), w.data(), c.index_n_heads, L, precision, &Pool(threads),
                  scores.data());
    benchmark::DoNotOptimize(TopKPositions(scores.data(), L, c.index_topk));
  }
  SetScanCounters(state, cache, static_cast<double>(L), threads, ProcessCpuSeconds() - cpu_start);
  if (state.range(2)) state.counters["topk_overlap_f32"] = TopKOverlapWithF32(cache, q, w, L);
}

// The decode's top-k alone over L random scores.
void BM_TopK(benchmark::State& state) {
  const int64_t L = state.range(0);
  const std::vector<float> scores = RandomVector(L, 8);
  for (auto _ : state)
    benchmark::DoNotOptimize(TopKPositions(scores.data(), L, TheLayer().config.index_topk));
}

void BM_AttentionCore(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t L = state.range(0);
  const bool dsa = state.range(1) != 0;
  KvCache cache = layer.Cache(L, L);
  const AttentionContext ctx = layer.Context(1, L - 1);
  AttentionSelection selection;
  if (dsa) {
    // A spread of index_topk positions, as the indexer would pick.
    selection.dense = false;
    std::vector<int32_t> picked;
    const int64_t k = std::min(L, c.index_topk);
    for (int64_t j = 0; j < k; ++j) picked.push_back(static_cast<int32_t>(j * L / k));
    selection.positions.push_back(picked);
  }
  const std::vector<float> q = RandomVector(c.num_attention_heads * c.qk_head_dim(), 3);
  std::vector<float> out(static_cast<size_t>(c.num_attention_heads * c.v_head_dim));
  for (auto _ : state) {
    AbsorbedAttention(ctx, layer.dense.kv_b_proj, 0, q.data(), cache, selection,
                      out.data());
    benchmark::DoNotOptimize(out.data());
  }
  const int64_t read = dsa ? std::min(L, c.index_topk) : L;
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations()) * read *
      (cache.format().bytes() - cache.format().field(KvField::kIndexKey).bytes()));
}

// Prefill's selection: the indexer scores every query of a T-token prompt
// against its causal prefix and keeps the top index_topk
// (IndexerSelectCausal: blocks of queries against chunks of keys, memory
// O(block x T) per thread, never [T, T]).
void BM_PrefillIndexer(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t T = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  KvCache cache = layer.Cache(T, T);
  const std::vector<float> q = RandomVector(T * c.index_n_heads * c.index_head_dim, 5);
  const std::vector<float> w = RandomVector(T * c.index_n_heads, 6);
  std::vector<std::vector<int32_t>> selected;
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    IndexerSelectCausal(cache, 0, q.data(), w.data(), c.index_n_heads, 0, T, c.index_topk,
                        &Pool(threads), &selected);
    benchmark::DoNotOptimize(selected.data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(T * static_cast<int64_t>(state.iterations())),
                         benchmark::Counter::kIsRate);
  // Queries that see no more than index_topk positions are not scored.
  double keys = 0.0;
  for (int64_t i = c.index_topk; i < T; ++i) keys += static_cast<double>(i + 1);
  SetScanCounters(state, cache, keys, threads, ProcessCpuSeconds() - cpu_start);
}

// Prefill's attention per token, measured on kSampled queries spread evenly
// over a T-token prompt (each attends to its causal prefix, or to
// index_topk positions spread over it); tokens_per_s extrapolates to all T.
constexpr int64_t kSampled = 32;

void BM_PrefillAttention(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t T = state.range(0);
  const bool dsa = state.range(1) != 0;
  KvCache cache = layer.Cache(T, T);
  AttentionContext ctx = layer.Context(kSampled, 0);
  AttentionSelection selection;
  selection.dense = false;
  for (int64_t i = 0; i < kSampled; ++i) {
    const int64_t visible = (i + 1) * T / kSampled;
    const int64_t k = dsa ? std::min(visible, c.index_topk) : visible;
    std::vector<int32_t> picked;
    for (int64_t j = 0; j < k; ++j) picked.push_back(static_cast<int32_t>(j * visible / k));
    selection.positions.push_back(std::move(picked));
  }
  const std::vector<float> q = RandomVector(kSampled * c.num_attention_heads * c.qk_head_dim(), 3);
  std::vector<float> out(static_cast<size_t>(kSampled * c.num_attention_heads * c.v_head_dim));
  for (auto _ : state) {
    AbsorbedAttention(ctx, layer.dense.kv_b_proj, 0, q.data(), cache, selection,
                      out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(kSampled * static_cast<int64_t>(state.iterations())),
                         benchmark::Counter::kIsRate);
}

// Prefill attention of a T-token prompt over itself, every head of a layer
// at V3.2's sizes, through the blocked causal kernel (AttendCausalHead),
// the heads split over the threads. GFLOP/s counts the score and weighted
// value multiply-adds, 2 * (qk + v) flops per query and visible position.
void BM_CausalAttention(benchmark::State& state) {
  const ModelConfig& c = TheLayer().config;
  const int64_t T = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const int64_t heads = c.num_attention_heads, qk = c.qk_head_dim();
  const int64_t kv_width = c.qk_nope_head_dim + c.v_head_dim;
  const std::vector<float> q = RandomVector(T * heads * qk, 3);
  const std::vector<float> kv = RandomVector(T * heads * kv_width, 4);
  const std::vector<float> rope = RandomVector(T * c.qk_rope_head_dim, 5);
  std::vector<float> out(static_cast<size_t>(T * heads * c.v_head_dim));
  const MlaBuffers buffers{q.data(), kv.data(),          rope.data(),        out.data(),
                           heads,    c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim};
  for (auto _ : state) {
    Pool(threads).ParallelFor(heads, 1, [&](int64_t h_begin, int64_t h_end) {
      for (int64_t h = h_begin; h < h_end; ++h)
        AttendCausalHead(MlaCausalHead(buffers, h, T, 0, 0.1f));
    });
    benchmark::DoNotOptimize(out.data());
  }
  const double pairs = static_cast<double>(T) * static_cast<double>(T + 1) / 2.0;
  const double flops = 2.0 * pairs * static_cast<double>(heads * (qk + c.v_head_dim));
  using C = benchmark::Counter;
  state.counters["GFLOP/s"] = C(flops / 1e9, C::kIsIterationInvariantRate);
  state.counters["pct_of_peak"] =
      C(100.0 * flops / g_fma_peak[threads], C::kIsIterationInvariantRate);
  state.counters["tokens_per_s"] = C(static_cast<double>(T), C::kIsIterationInvariantRate);
}

constexpr int64_t kContexts[] = {1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 17};

void DecodeArgs(benchmark::internal::Benchmark* b) {
  for (int64_t dsa : {1, 0})
    for (int64_t L : kContexts) b->Args({L, dsa});
}

BENCHMARK(BM_Decode)
    ->Apply(DecodeArgs)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();
BENCHMARK(BM_AttentionCore)
    ->Apply(DecodeArgs)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();
BENCHMARK(BM_IndexerScan)
    ->ArgNames({"context", "threads", "bf16"})
    ->ArgsProduct({{1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 17}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

BENCHMARK(BM_CausalAttention)
    ->ArgNames({"tokens", "threads"})
    ->ArgsProduct({{512, 2048}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5)
    ->UseRealTime();

BENCHMARK(BM_TopK)
    ->Arg(1 << 14)
    ->Arg(1 << 17)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2)
    ->UseRealTime();

const bool kPrefillRegistered = [] {
  std::vector<int64_t> lengths = {4096};
  if (const char* v = std::getenv("DSV32_BENCH_LONG"); v && std::string(v) == "1")
    lengths.push_back(32768);
  for (int64_t T : lengths) {
    benchmark::RegisterBenchmark("BM_PrefillIndexer", BM_PrefillIndexer)
        ->Args({T, 2})
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_PrefillAttention", BM_PrefillAttention)
        ->Args({T, 1})
        ->Args({T, 0})
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using namespace dsv32;
  std::printf("indexer: %s\n", IndexKernelsUseAvx512Bf16()
                                   ? "fp8 keys through AVX512-BF16 (vdpbf16ps)"
                                   : "fp8 keys through f32 FMA");
  for (int t = 1; t <= 2; ++t) {
    g_read_bandwidth[t] = MeasureReadBandwidth(t, size_t{1} << 30);
    g_fma_peak[t] = MeasureFmaPeak(t);
    std::printf(
        "threads %d: read bandwidth %.2f GB/s (1 GiB read-sum), f32 FMA peak %.1f GFLOP/s\n", t,
        g_read_bandwidth[t] / 1e9, g_fma_peak[t] / 1e9);
  }
  g_fma_peak_cpu = MeasureFmaPeakPerCpuSecond();
  std::printf("one thread: f32 FMA peak %.1f GFLOP/s of CPU time\n", g_fma_peak_cpu / 1e9);
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
