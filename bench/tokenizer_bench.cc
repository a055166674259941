// Encode throughput on ~1.1 MB of mixed text (prose, code, CJK, emoji,
// digits), one Encode call per line on one thread, as the reference was
// measured; and the time to load the tokenizer from its files, which every
// CLI command and server start pays. The tokenizer directory can be
// overridden with DSV32_TOKENIZER=/path/to/dir.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "text/tokenizer.h"

namespace dsv32 {
namespace {

const char* TokenizerDir() {
  const char* dir = std::getenv("DSV32_TOKENIZER");
  return dir ? dir : DSV32_TOKENIZER_DIR;
}

const Tokenizer* LoadTokenizer(benchmark::State& state) {
  static std::unique_ptr<Tokenizer> tokenizer;
  if (!tokenizer) {
    auto t = Tokenizer::Load(TokenizerDir());
    if (!t.ok()) {
      state.SkipWithError(t.status().message().c_str());
      return nullptr;
    }
    tokenizer = std::move(t).value();
  }
  return tokenizer.get();
}

std::vector<std::string> CorpusLines() {
  std::ifstream in(DSV32_SHARED_DIR "/tokenizer/corpus.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void Run(benchmark::State& state, const EncodeOptions& options) {
  const Tokenizer* tok = LoadTokenizer(state);
  if (tok == nullptr) return;
  const std::vector<std::string> lines = CorpusLines();
  if (lines.empty()) {
    state.SkipWithError("corpus " DSV32_SHARED_DIR "/tokenizer/corpus.txt is missing or empty");
    return;
  }
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size();
  size_t tokens = 0;
  std::vector<int32_t> ids;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& line : lines) {
      ids.clear();
      const Status s = tok->EncodeInto(line, options, &ids);
      if (!s.ok()) {
        state.SkipWithError(s.message().c_str());
        return;
      }
      tokens += ids.size();
    }
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["lines"] = static_cast<double>(lines.size());
}

void BM_EncodeCorpus(benchmark::State& state) { Run(state, {}); }
BENCHMARK(BM_EncodeCorpus)->Unit(benchmark::kMillisecond);

void BM_EncodeCorpusPlainText(benchmark::State& state) {
  Run(state, {.parse_special_tokens = false});
}
BENCHMARK(BM_EncodeCorpusPlainText)->Unit(benchmark::kMillisecond);

// tokenizer.json (7.8 MB for DeepSeek-V3) read, parsed and built into the
// vocabulary and merge tables, from the page cache.
void BM_LoadTokenizer(benchmark::State& state) {
  for (auto _ : state) {
    auto t = Tokenizer::Load(TokenizerDir());
    if (!t.ok()) {
      state.SkipWithError(t.status().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(t->get());
  }
}
BENCHMARK(BM_LoadTokenizer)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace dsv32

BENCHMARK_MAIN();
