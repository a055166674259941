// Kernel benchmark: GEMV at decode shapes of the real model, as weight
// bytes/s and as a share of the streaming read bandwidth measured at start;
// GEMM at prefill sizes, as GFLOP/s, as a share of the measured FMA peak, and
// against OpenBLAS sgemm on the same weights dequantized to f32, alone and in
// pairs of runs timed back to back.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attention/attention_kernels.h"
#include "core/thread_pool.h"
#include "hwy/aligned_allocator.h"
#include "machine_peak.h"
#include "quant/int4.h"
#include "quant/kernels.h"
#include "quant/matrix.h"

namespace dsv32 {
namespace {

constexpr int kMaxThreads = 2;
// GEMV cycles through copies of the weights adding up to at least this much,
// so every call streams from memory as in a real decode step.
constexpr size_t kRotateBytes = size_t{512} << 20;
constexpr size_t kBandwidthBytes = size_t{1} << 30;

double g_read_bandwidth[kMaxThreads + 1];  // bytes/s by thread count
double g_fma_peak[kMaxThreads + 1];        // flop/s by thread count
double g_bf16_peak[kMaxThreads + 1];       // flop/s of bf16 dot products, 0 if none

// 256 MiB: far past the last-level cache, and read in tens of milliseconds.
ReadBandwidthProbe& BandwidthProbe() {
  static ReadBandwidthProbe probe(size_t{256} << 20);
  return probe;
}

ThreadPool& Pool(int threads) {
  static ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

struct ModelShape {
  const char* name;
  int64_t rows, cols;
};

// DeepSeek-V3.2 projections (rows = out features) at hidden size 7168.
constexpr ModelShape kDecodeShapes[] = {
    {"q_a_proj", 1536, 7168},    {"q_b_proj", 24576, 1536},      {"kv_a_proj_with_mqa", 576, 7168},
    {"kv_b_proj", 32768, 512},   {"o_proj", 7168, 16384},        {"expert_gate_up", 2048, 7168},
    {"expert_down", 7168, 2048}, {"dense_gate_up", 18432, 7168},
};
constexpr ModelShape kPrefillShapes[] = {
    {"expert_gate_up", 2048, 7168},
    {"expert_down", 7168, 2048},
};

enum class Format { kFp8, kBF16, kInt4G32, kInt4G128Asym, kF32 };

const char* FormatName(Format f) {
  switch (f) {
    case Format::kFp8:
      return "fp8";
    case Format::kBF16:
      return "bf16";
    case Format::kInt4G32:
      return "int4_g32";
    case Format::kInt4G128Asym:
      return "int4_g128_asym";
    case Format::kF32:
      return "f32";
  }
  return "?";
}

// Fast deterministic fill; the values only need to be finite and varied.
void FillRandom(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t s = seed;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(p + i, &z, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<uint8_t>(i * 131);
}

// One matrix and the buffers it points into.
struct OwnedMatrix {
  hwy::AlignedFreeUniquePtr<uint8_t[]> data;
  std::vector<float> scales;
  std::vector<uint8_t> zeros;
  QuantMatrix m;
};

std::unique_ptr<OwnedMatrix> MakeMatrix(Format f, int64_t rows, int64_t cols, uint64_t seed) {
  auto o = std::make_unique<OwnedMatrix>();
  QuantMatrix& m = o->m;
  m.rows = rows;
  m.cols = cols;
  size_t bytes = 0;
  switch (f) {
    case Format::kFp8:
      m.format = WeightFormat::kFp8Block;
      bytes = static_cast<size_t>(rows * cols);
      break;
    case Format::kBF16:
      m.format = WeightFormat::kBF16;
      bytes = static_cast<size_t>(rows * cols * 2);
      break;
    case Format::kF32:
      m.format = WeightFormat::kF32;
      bytes = static_cast<size_t>(rows * cols * 4);
      break;
    case Format::kInt4G32:
    case Format::kInt4G128Asym:
      m.format = WeightFormat::kInt4;
      m.block_rows = 1;
      m.block_cols = f == Format::kInt4G32 ? 32 : 128;
      bytes = static_cast<size_t>(rows * Int4RowBytes(cols));
      break;
  }
  o->data = hwy::AllocateAligned<uint8_t>(bytes);
  FillRandom(o->data.get(), bytes, seed);
  uint8_t* d = o->data.get();
  // Keep every value finite and of weight-like size.
  if (f == Format::kFp8) {
    for (size_t i = 0; i < bytes; ++i) d[i] &= 0xbf;
  } else if (f == Format::kBF16) {
    auto* h = reinterpret_cast<uint16_t*>(d);
    for (size_t i = 0; i < bytes / 2; ++i) h[i] = (h[i] & 0x807f) | 0x3c00;
  } else if (f == Format::kF32) {
    auto* u = reinterpret_cast<uint32_t*>(d);
    for (size_t i = 0; i < bytes / 4; ++i) u[i] = (u[i] & 0x807fffff) | 0x3c000000;
  }
  if (m.format == WeightFormat::kFp8Block || m.format == WeightFormat::kInt4) {
    o->scales.assign(static_cast<size_t>(m.scale_rows() * m.scale_cols()), 0.01f);
    m.scales = o->scales.data();
  }
  if (f == Format::kInt4G128Asym) {
    o->zeros.assign(o->scales.size(), 7);
    m.zeros = o->zeros.data();
  }
  m.data = d;
  return o;
}

// The copies for the GEMV being measured; a new shape or format replaces
// them, so at most one set is alive.
const std::vector<std::unique_ptr<OwnedMatrix>>& RotatingCopies(Format f, const ModelShape& s) {
  static std::vector<std::unique_ptr<OwnedMatrix>> copies;
  static std::string key;
  const std::string want = std::string(FormatName(f)) + s.name;
  if (key != want) {
    copies.clear();
    key = want;
    size_t total = 0;
    do {
      copies.push_back(MakeMatrix(f, s.rows, s.cols, copies.size() + 1));
      total += copies.back()->m.bytes();
    } while (total < kRotateBytes);
  }
  return copies;
}

std::vector<float> Activations(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.01f - 0.08f;
  return x;
}

void Gemv(benchmark::State& state, Format f, ModelShape s, int threads, int64_t tokens,
          Fp8Decode decode, Int4Dot int4_dot) {
  const auto& copies = RotatingCopies(f, s);
  const auto x = Activations(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  size_t i = 0;
  for (auto _ : state) {
    MatVec(copies[i++ % copies.size()]->m, x.data(), tokens, y.data(), &Pool(threads), decode,
           int4_dot);
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(copies[0]->m.bytes());
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_bw"] = benchmark::Counter(100.0 * bytes / g_read_bandwidth[threads],
                                                   benchmark::Counter::kIsIterationInvariantRate);
  // Against the bandwidth of the moment: measured again right after the
  // timed loop, on as many threads.
  state.counters["pct_of_bw_now"] =
      benchmark::Counter(100.0 * bytes / BandwidthProbe().Measure(threads),
                         benchmark::Counter::kIsIterationInvariantRate);
}

// The same GEMV on one matrix of about 1 MiB, called again and again so it
// stays in L2: how fast the kernel decodes when memory is not the limit.
// Above the read bandwidth, a GEMV from memory is bound by memory; below it,
// by the decode.
void GemvResident(benchmark::State& state, Format f, int64_t rows, int64_t cols, Fp8Decode decode,
                  Int4Dot int4_dot) {
  const auto w = MakeMatrix(f, rows, cols, 1);
  const auto x = Activations(cols);
  std::vector<float> y(static_cast<size_t>(rows));
  for (auto _ : state) {
    MatVec(w->m, x.data(), 1, y.data(), &Pool(1), decode, int4_dot);
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(w->m.bytes());
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_bw"] = benchmark::Counter(100.0 * bytes / g_read_bandwidth[1],
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// MLA's absorbed decode multiplies every head's query by its W_kb
// transposed: rows [h * 256, h * 256 + 128) of kv_b_proj (32768 x 512 at
// V3.2's sizes), for all 128 heads. `transposed` runs MatVecTransposed on
// each head's rows; otherwise the rows are dequantized 16 at a time and
// added up with axpys, for comparison. Counts the bytes of the W_kb halves.
void GemvTransposedKvB(benchmark::State& state, Format f, bool transposed, Fp8Decode decode) {
  constexpr ModelShape kKvB = kDecodeShapes[3];
  constexpr int64_t kHeadRows = 256, kNope = 128, kChunk = 16;
  const auto& copies = RotatingCopies(f, kKvB);
  const auto x = Activations(kNope);
  std::vector<float> y(static_cast<size_t>(kKvB.cols));
  std::vector<float> rows(static_cast<size_t>(kChunk * kKvB.cols));
  size_t i = 0;
  for (auto _ : state) {
    const QuantMatrix& m = copies[i++ % copies.size()]->m;
    for (int64_t h = 0; h < kKvB.rows / kHeadRows; ++h) {
      if (transposed) {
        MatVecTransposed(RowsOf(m, h * kHeadRows, kNope), x.data(), y.data(), decode);
      } else {
        std::fill(y.begin(), y.end(), 0.0f);
        for (int64_t r0 = 0; r0 < kNope; r0 += kChunk) {
          DequantizeRows(m, h * kHeadRows + r0, kChunk, rows.data());
          for (int64_t r = 0; r < kChunk; ++r) {
            KernelAxpy(x[static_cast<size_t>(r0 + r)], &rows[static_cast<size_t>(r * kKvB.cols)],
                       y.data(), kKvB.cols);
          }
        }
      }
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(copies[0]->m.bytes()) / 2;
  state.counters["GB/s"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_bw"] = benchmark::Counter(100.0 * bytes / g_read_bandwidth[1],
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// The peak a GEMM of this precision is held to: FMA, or bf16 dot products.
double PeakFor(GemmPrecision precision, int threads) {
  return precision == GemmPrecision::kBf16 ? g_bf16_peak[threads] : g_fma_peak[threads];
}

void SetFlopCounters(benchmark::State& state, double flops, int threads,
                     GemmPrecision precision = GemmPrecision::kF32) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_of_peak"] = benchmark::Counter(100.0 * flops / PeakFor(precision, threads),
                                                     benchmark::Counter::kIsIterationInvariantRate);
}

void Gemm(benchmark::State& state, Format f, ModelShape s, int threads, int64_t tokens,
          GemmPrecision precision) {
  const auto w = MakeMatrix(f, s.rows, s.cols, 1);
  const auto x = Activations(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  for (auto _ : state) {
    MatMulTiled(w->m, x.data(), tokens, y.data(), &Pool(threads), precision);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * static_cast<double>(tokens * s.rows * s.cols), threads, precision);
}

// w in f32, [rows, cols].
std::vector<float> DequantizedF32(const QuantMatrix& w) {
  std::vector<float> wf(static_cast<size_t>(w.rows * w.cols));
  DequantizeRows(w, 0, w.rows, wf.data());
  return wf;
}

// y [tokens, rows] = x [tokens, cols] * wf^T by OpenBLAS.
void SgemmF32(const std::vector<float>& wf, const std::vector<float>& x, ModelShape s,
              int64_t tokens, std::vector<float>* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(tokens),
              static_cast<int>(s.rows), static_cast<int>(s.cols), 1.0f, x.data(),
              static_cast<int>(s.cols), wf.data(), static_cast<int>(s.cols), 0.0f, y->data(),
              static_cast<int>(s.rows));
  benchmark::ClobberMemory();
}

// OpenBLAS on the FP8 weights of Gemm, dequantized to f32 beforehand.
void Sgemm(benchmark::State& state, ModelShape s, int threads, int64_t tokens) {
  const std::vector<float> wf = DequantizedF32(MakeMatrix(Format::kFp8, s.rows, s.cols, 1)->m);
  const auto x = Activations(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  openblas_set_num_threads(threads);
  for (auto _ : state) SgemmF32(wf, x, s, tokens, &y);
  SetFlopCounters(state, 2.0 * static_cast<double>(tokens * s.rows * s.cols), threads);
}

double SecondsOf(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The FP8 kernel and OpenBLAS on the same weights, one right after the
// other in every iteration (which goes first alternates). Load from other
// work on a shared machine moves both alike within a pair, so the median of
// the pairs' ratios compares them where separate runs cannot.
void GemmVsSgemm(benchmark::State& state, ModelShape s, int threads, int64_t tokens,
                 GemmPrecision precision) {
  const auto w = MakeMatrix(Format::kFp8, s.rows, s.cols, 1);
  const std::vector<float> wf = DequantizedF32(w->m);
  const auto x = Activations(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  openblas_set_num_threads(threads);
  auto kernel = [&] {
    MatMulTiled(w->m, x.data(), tokens, y.data(), &Pool(threads), precision);
    benchmark::ClobberMemory();
  };
  auto sgemm = [&] { SgemmF32(wf, x, s, tokens, &y); };
  std::vector<double> ours, theirs, ratios;
  for (auto _ : state) {
    double ours_s, theirs_s;
    if (ours.size() % 2 == 0) {
      ours_s = SecondsOf(kernel);
      theirs_s = SecondsOf(sgemm);
    } else {
      theirs_s = SecondsOf(sgemm);
      ours_s = SecondsOf(kernel);
    }
    ours.push_back(ours_s);
    theirs.push_back(theirs_s);
    ratios.push_back(theirs_s / ours_s);
  }
  const double flops = 2.0 * static_cast<double>(tokens * s.rows * s.cols);
  state.counters["speedup"] = Median(ratios);
  state.counters["GFLOP/s"] = flops / Median(ours) / 1e9;
  state.counters["pct_of_peak"] = 100.0 * flops / Median(ours) / PeakFor(precision, threads);
  state.counters["openblas_GFLOP/s"] = flops / Median(theirs) / 1e9;
}

std::string Name(const char* kind, const char* format, const ModelShape& s, int64_t tokens,
                 int threads) {
  return std::string(kind) + "/" + format + "/" + s.name + "_" + std::to_string(s.rows) + "x" +
         std::to_string(s.cols) + "/tokens:" + std::to_string(tokens) +
         "/threads:" + std::to_string(threads);
}

void RegisterAll() {
  const Format gemv_formats[] = {Format::kFp8, Format::kBF16, Format::kInt4G32,
                                 Format::kInt4G128Asym};
  for (Format f : gemv_formats) {
    for (const ModelShape& s : kDecodeShapes) {
      for (int threads = 1; threads <= kMaxThreads; ++threads) {
        benchmark::RegisterBenchmark(Name("gemv", FormatName(f), s, 1, threads).c_str(), Gemv, f, s,
                                     threads, int64_t{1}, Fp8Decode::kBits, Int4Dot::kInt8)
            ->UseRealTime()
            ->MinTime(0.2);
      }
    }
  }
  // FP8 on bf16 dot products against bf16-rounded activations (the fast
  // mode), where the CPU has them.
  if (Bf16DotAvailable()) {
    const std::pair<const char*, Fp8Decode> paths[] = {{"fp8_bf16dot", Fp8Decode::kBf16Dot},
                                                       {"fp8_bf16split", Fp8Decode::kBf16Split}};
    for (const auto& [name, decode] : paths) {
      for (const ModelShape& s : kDecodeShapes) {
        for (int threads = 1; threads <= kMaxThreads; ++threads) {
          benchmark::RegisterBenchmark(Name("gemv", name, s, 1, threads).c_str(), Gemv,
                                       Format::kFp8, s, threads, int64_t{1}, decode, Int4Dot::kInt8)
              ->UseRealTime()
              ->MinTime(0.2);
        }
      }
      for (const ModelShape& s : {kDecodeShapes[5], kDecodeShapes[7]}) {
        for (int64_t tokens : {2, 4, 8}) {
          benchmark::RegisterBenchmark(Name("gemv", name, s, tokens, 2).c_str(), Gemv, Format::kFp8,
                                       s, 2, tokens, decode, Int4Dot::kInt8)
              ->UseRealTime()
              ->MinTime(0.2);
        }
      }
    }
  }
  // FP8 decoded to f32 by integer shifts alone (what MatMul takes where
  // Fp8F32BitsPays), on every CPU for comparison with `fp8`.
  for (const ModelShape& s : kDecodeShapes) {
    for (int threads = 1; threads <= kMaxThreads; ++threads) {
      benchmark::RegisterBenchmark(Name("gemv", "fp8_f32bits", s, 1, threads).c_str(), Gemv,
                                   Format::kFp8, s, threads, int64_t{1}, Fp8Decode::kF32Bits,
                                   Int4Dot::kInt8)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
  for (const ModelShape& s : {kDecodeShapes[5], kDecodeShapes[7]}) {
    for (int64_t tokens : {2, 4, 8}) {
      benchmark::RegisterBenchmark(Name("gemv", "fp8_f32bits", s, tokens, 2).c_str(), Gemv,
                                   Format::kFp8, s, 2, tokens, Fp8Decode::kF32Bits, Int4Dot::kInt8)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
  // The FP8 decode by table, for comparison with the bit decode above, and a
  // few multi-token decode steps.
  for (const ModelShape& s : {kDecodeShapes[5], kDecodeShapes[7]}) {
    for (int threads = 1; threads <= kMaxThreads; ++threads) {
      benchmark::RegisterBenchmark(Name("gemv", "fp8_table", s, 1, threads).c_str(), Gemv,
                                   Format::kFp8, s, threads, int64_t{1}, Fp8Decode::kTable, Int4Dot::kInt8)
          ->UseRealTime()
          ->MinTime(0.2);
    }
    for (int64_t tokens : {2, 4, 8}) {
      benchmark::RegisterBenchmark(Name("gemv", "fp8", s, tokens, 2).c_str(), Gemv, Format::kFp8, s,
                                   2, tokens, Fp8Decode::kBits, Int4Dot::kInt8)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
  // INT4 with the nibbles decoded to f32 against exact activations, for
  // comparison with the int8 dot above, and a few multi-token steps.
  for (const ModelShape& s : {kDecodeShapes[5], kDecodeShapes[6]}) {
    for (int threads = 1; threads <= kMaxThreads; ++threads) {
      benchmark::RegisterBenchmark(Name("gemv", "int4_g32_f32dot", s, 1, threads).c_str(), Gemv,
                                   Format::kInt4G32, s, threads, int64_t{1}, Fp8Decode::kBits,
                                   Int4Dot::kF32)
          ->UseRealTime()
          ->MinTime(0.2);
    }
    for (int64_t tokens : {4, 8}) {
      for (Int4Dot dot : {Int4Dot::kInt8, Int4Dot::kF32}) {
        const char* name = dot == Int4Dot::kInt8 ? "int4_g32" : "int4_g32_f32dot";
        benchmark::RegisterBenchmark(Name("gemv", name, s, tokens, 2).c_str(), Gemv,
                                     Format::kInt4G32, s, 2, tokens, Fp8Decode::kBits, dot)
            ->UseRealTime()
            ->MinTime(0.2);
      }
    }
  }
  for (Format f : {Format::kFp8, Format::kBF16}) {
    const std::string format = FormatName(f);
    const ModelShape kb{"kv_b_proj_kb_heads", 128 * 128, 512};
    for (bool transposed : {true, false}) {
      benchmark::RegisterBenchmark(
          Name("gemv_transposed", (format + (transposed ? "" : "_dequantize_axpy")).c_str(), kb, 1,
               1)
              .c_str(),
          GemvTransposedKvB, f, transposed, Fp8Decode::kBits)
          ->UseRealTime()
          ->MinTime(0.2);
    }
    // The f32-bits decode, which MLA takes where Fp8F32BitsPays.
    if (f == Format::kFp8) {
      benchmark::RegisterBenchmark(Name("gemv_transposed", "fp8_f32bits", kb, 1, 1).c_str(),
                                   GemvTransposedKvB, f, true, Fp8Decode::kF32Bits)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
  constexpr int64_t kResidentCols = 4096;
  for (Format f : gemv_formats) {
    const QuantMatrix probe = MakeMatrix(f, 1, kResidentCols, 1)->m;
    const int64_t rows = (int64_t{1} << 20) / static_cast<int64_t>(probe.bytes());
    const ModelShape resident{"resident", rows, kResidentCols};
    benchmark::RegisterBenchmark(Name("gemv_l2", FormatName(f), resident, 1, 1).c_str(),
                                 GemvResident, f, rows, kResidentCols, Fp8Decode::kBits,
                                 Int4Dot::kInt8)
        ->MinTime(0.2);
    if (f == Format::kFp8) {
      benchmark::RegisterBenchmark(Name("gemv_l2", "fp8_f32bits", resident, 1, 1).c_str(),
                                   GemvResident, f, rows, kResidentCols, Fp8Decode::kF32Bits,
                                   Int4Dot::kInt8)
          ->MinTime(0.2);
    }
    if (f == Format::kFp8 && Bf16DotAvailable()) {
      for (const auto& [name, decode] : {std::pair{"fp8_bf16dot", Fp8Decode::kBf16Dot},
                                         std::pair{"fp8_bf16split", Fp8Decode::kBf16Split}}) {
        benchmark::RegisterBenchmark(Name("gemv_l2", name, resident, 1, 1).c_str(), GemvResident, f,
                                     rows, kResidentCols, decode, Int4Dot::kInt8)
            ->MinTime(0.2);
      }
    }
    if (f == Format::kInt4G32) {
      benchmark::RegisterBenchmark(Name("gemv_l2", "int4_g32_f32dot", resident, 1, 1).c_str(),
                                   GemvResident, f, rows, kResidentCols, Fp8Decode::kBits,
                                   Int4Dot::kF32)
          ->MinTime(0.2);
    }
  }
  const Format gemm_formats[] = {Format::kFp8, Format::kBF16, Format::kInt4G32, Format::kF32};
  // The fast mode's bf16 kernel beside the f32 one, where the CPU has it.
  std::vector<std::pair<const char*, GemmPrecision>> fp8_gemms = {{"fp8", GemmPrecision::kF32}};
  if (Bf16DotAvailable()) fp8_gemms.push_back({"fp8_bf16", GemmPrecision::kBf16});
  for (const ModelShape& s : kPrefillShapes) {
    for (int64_t tokens : {128, 512}) {
      for (int threads = 1; threads <= kMaxThreads; ++threads) {
        for (Format f : gemm_formats) {
          benchmark::RegisterBenchmark(Name("gemm", FormatName(f), s, tokens, threads).c_str(),
                                       Gemm, f, s, threads, tokens, GemmPrecision::kF32)
              ->UseRealTime()
              ->MinTime(0.3);
        }
        if (Bf16DotAvailable()) {
          benchmark::RegisterBenchmark(Name("gemm", "fp8_bf16", s, tokens, threads).c_str(), Gemm,
                                       Format::kFp8, s, threads, tokens, GemmPrecision::kBf16)
              ->UseRealTime()
              ->MinTime(0.3);
        }
        benchmark::RegisterBenchmark(Name("gemm", "openblas_sgemm_f32", s, tokens, threads).c_str(),
                                     Sgemm, s, threads, tokens)
            ->UseRealTime()
            ->MinTime(0.3);
        // About two seconds of pairs on one thread.
        for (const auto& [name, precision] : fp8_gemms) {
          benchmark::RegisterBenchmark(Name("gemm_vs_openblas", name, s, tokens, threads).c_str(),
                                       GemmVsSgemm, s, threads, tokens, precision)
              ->UseRealTime()
              ->Iterations(tokens >= 512 ? 9 * threads : 31 * threads);
        }
      }
    }
    // A long prompt's prefill, which MatMulTiled takes in passes of 512.
    for (int threads = 1; threads <= kMaxThreads; ++threads) {
      for (const auto& [name, precision] : fp8_gemms) {
        benchmark::RegisterBenchmark(Name("gemm_vs_openblas", name, s, 2048, threads).c_str(),
                                     GemmVsSgemm, s, threads, 2048, precision)
            ->UseRealTime()
            ->Iterations(3 * threads);
      }
    }
  }
}

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using namespace dsv32;
  std::printf("kernel target: %s\n", ChosenKernelTarget());
  // An OpenBLAS older than the CPU falls back to generic kernels (Prescott),
  // which makes the comparison meaningless; OPENBLAS_CORETYPE picks a core.
  std::printf("openblas core: %s\n", openblas_get_corename());
  for (int t = 1; t <= kMaxThreads; ++t) {
    g_read_bandwidth[t] = MeasureReadBandwidth(t, kBandwidthBytes);
    g_fma_peak[t] = MeasureFmaPeak(t);
    g_bf16_peak[t] = MeasureBf16DotPeak(t);
    std::printf(
        "threads %d: read bandwidth %.2f GB/s (1 GiB read-sum), f32 FMA peak %.1f GFLOP/s, "
        "bf16 dot peak %.1f GFLOP/s\n",
        t, g_read_bandwidth[t] / 1e9, g_fma_peak[t] / 1e9, g_bf16_peak[t] / 1e9);
  }
  std::fflush(stdout);
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
