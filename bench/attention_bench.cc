// One MLA layer of DeepSeek-V3.2 (128 heads, kv_lora_rank 512, rope 64,
// indexer 64 heads x 128, index_topk 2048) with random FP8 weights and an
// fp8_ds_mla cache filled with random entries:
//   BM_Decode/<context>/<dsa>     one decoded token through the whole layer
//   BM_IndexerScan/<context>      the indexer's O(L) scan alone (bytes/s)
//   BM_AttentionCore/<context>/<dsa>  attention over the latents alone
//   BM_PrefillIndexer/<tokens>    prefill's top-k selection for every token
//   BM_PrefillAttention/<tokens>/<dsa>  prefill's attention per token
// The 32K prefill points are registered only with DSV32_BENCH_LONG=1.
// BM_Decode includes the layer's projections, whose cost is that of
// quant/matmul, the same at every context length.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>

#include "attention/indexer.h"
#include "attention/mla.h"
#include "attention/mla_attention.h"
#include "core/config.h"
#include "core/thread_pool.h"

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
    (void)PrepareAbsorbedWeights(&w);
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

void BM_IndexerScan(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t L = state.range(0);
  KvCache cache = layer.Cache(L, L);
  const std::vector<float> q = RandomVector(c.index_n_heads * c.index_head_dim, 5);
  const std::vector<float> w = RandomVector(c.index_n_heads, 6);
  std::vector<float> scores(static_cast<size_t>(L));
  for (auto _ : state) {
    IndexerScores(cache, 0, q.data(), w.data(), c.index_n_heads, L, &layer.pool, scores.data());
    benchmark::DoNotOptimize(TopKPositions(scores.data(), L, c.index_topk));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * L *
                          cache.format().field(KvField::kIndexKey).bytes());
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
    AbsorbedAttention(ctx, layer.dense.kv_b_dense.data(), 0, q.data(), cache, selection,
                      out.data());
    benchmark::DoNotOptimize(out.data());
  }
  const int64_t read = dsa ? std::min(L, c.index_topk) : L;
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations()) * read *
      (cache.format().bytes() - cache.format().field(KvField::kIndexKey).bytes()));
}

// Prefill's selection: the indexer scores every query of a T-token prompt
// against its causal prefix and keeps the top index_topk, one query per
// thread at a time (memory O(T) per thread, never [T, T]).
void BM_PrefillIndexer(benchmark::State& state) {
  Layer& layer = TheLayer();
  const ModelConfig& c = layer.config;
  const int64_t T = state.range(0);
  KvCache cache = layer.Cache(T, T);
  const std::vector<float> q = RandomVector(c.index_n_heads * c.index_head_dim, 5);
  const std::vector<float> w = RandomVector(c.index_n_heads, 6);
  for (auto _ : state) {
    layer.pool.ParallelFor(T, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(T));
      for (int64_t i = begin; i < end; ++i) {
        IndexerScores(cache, 0, q.data(), w.data(), c.index_n_heads, i + 1, nullptr, scores.data());
        benchmark::DoNotOptimize(TopKPositions(scores.data(), i + 1, c.index_topk));
      }
    });
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(T * static_cast<int64_t>(state.iterations())),
                         benchmark::Counter::kIsRate);
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
    AbsorbedAttention(ctx, layer.dense.kv_b_dense.data(), 0, q.data(), cache, selection,
                      out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(kSampled * static_cast<int64_t>(state.iterations())),
                         benchmark::Counter::kIsRate);
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
    ->Arg(1 << 10)
    ->Arg(1 << 12)
    ->Arg(1 << 14)
    ->Arg(1 << 16)
    ->Arg(1 << 17)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5)
    ->UseRealTime();

const bool kPrefillRegistered = [] {
  std::vector<int64_t> lengths = {4096};
  if (const char* v = std::getenv("DSV32_BENCH_LONG"); v && std::string(v) == "1")
    lengths.push_back(32768);
  for (int64_t T : lengths) {
    benchmark::RegisterBenchmark("BM_PrefillIndexer", BM_PrefillIndexer)
        ->Arg(T)
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

BENCHMARK_MAIN();
