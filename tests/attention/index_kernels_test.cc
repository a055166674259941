// The indexer's scoring kernels against their scalar definition on every
// compiled target, over ragged shapes and every cache dtype; the prefill
// selection against one query at a time; a context at V3.2's longest.
#include "attention/index_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "attention/attention_kernels.h"
#include "attention/indexer.h"
#include "attention/kv_cache.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "hwy/targets.h"
#include "hwy_targets.h"

namespace dsv32 {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(mean, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

using testing::ForEachHwyTarget;

// A bound on the rounding of a score: a few ulps of the sum of magnitudes.
float Bound(const IndexQuery& q, const float* key, float factor) {
  double m = 0.0;
  for (int64_t h = 0; h < q.heads; ++h) {
    double dot = 0.0;
    for (int64_t k = 0; k < q.dim; ++k) dot += std::fabs(q.q_t[k * q.padded_heads + h] * key[k]);
    m += std::fabs(q.w[h]) * dot;
  }
  return static_cast<float>(4e-6 * m * factor) + 1e-30f;
}

struct Page {
  std::vector<uint8_t> values, scales;
  std::vector<float> decoded;  // what the cache holds, as f32
};

Page Encode(const KvFieldFormat& f, const std::vector<float>& keys, int64_t rows) {
  Page p;
  p.values.resize(static_cast<size_t>(rows * f.value_bytes()));
  p.scales.resize(static_cast<size_t>(rows * f.scale_bytes()) + 1);
  p.decoded.resize(static_cast<size_t>(rows * f.dim));
  for (int64_t r = 0; r < rows; ++r) {
    EncodeKvField(f, &keys[r * f.dim], p.values.data() + r * f.value_bytes(),
                  p.scales.data() + r * f.scale_bytes());
    DecodeKvField(f, p.values.data() + r * f.value_bytes(), p.scales.data() + r * f.scale_bytes(),
                  &p.decoded[r * f.dim]);
  }
  return p;
}

TEST(IndexKernels, ScoresMatchScalarOnEveryTargetDtypeAndRaggedShape) {
  ForEachHwyTarget([] {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF8E4M3}) {
      for (int64_t dim : {2, 7, 24, 128}) {
        const KvFieldFormat f{dtype, dim, dtype == DType::kF8E4M3 ? dim : 0};
        for (IndexPrecision precision : {IndexPrecision::kF32, IndexPrecision::kBf16}) {
          if (precision == IndexPrecision::kBf16 && dim % 2 != 0) continue;
          for (int64_t heads : {1, 5, 17, 64}) {
            const auto qv = Random(static_cast<size_t>(heads * dim), 1);
            const auto wv = Random(static_cast<size_t>(heads), 2);
            const IndexQuery q(qv.data(), wv.data(), heads, dim, 0.125f, precision);
            for (int64_t rows : {1, 3, 4, 9, 64, 67}) {
              SCOPED_TRACE(::testing::Message()
                           << DTypeName(dtype) << " dim " << dim << " heads " << heads << " rows "
                           << rows << (precision == IndexPrecision::kBf16 ? " bf16" : " f32"));
              // Mean 0.3 so that both signs of q . k, and so ReLU, matter.
              Page page = Encode(f, Random(static_cast<size_t>(rows * dim), 3, 0.3f), rows);
              // The keys as the kernel reads them: f32 keys are rounded for
              // kBf16; E4M3 ones are exact in bf16 and scaled afterwards.
              if (precision == IndexPrecision::kBf16 && dtype == DType::kF32)
                for (float& v : page.decoded) v = BF16ToF32(F32ToBF16(v));
              std::vector<float> ref(static_cast<size_t>(rows));
              IndexScoresReference(q, page.decoded.data(), nullptr, rows, ref.data());
              // One page read at once, and the same keys appended in pieces.
              for (int64_t piece : {rows, int64_t{4}}) {
                IndexKeyReader reader(f, precision, rows);
                for (int64_t r = 0; r < rows; r += piece)
                  reader.Append(page.values.data() + r * f.value_bytes(),
                                page.scales.data() + r * f.scale_bytes(),
                                std::min(piece, rows - r));
                std::vector<float> fast(static_cast<size_t>(rows));
                KernelIndexScores(q, reader.keys(), fast.data());
                for (int64_t r = 0; r < rows; ++r)
                  ASSERT_NEAR(fast[r], ref[r], Bound(q, &page.decoded[r * dim], 1.0f))
                      << "row " << r << " piece " << piece;
              }
            }
          }
        }
      }
    }
  });
}

TEST(IndexKernels, F32PrecisionKeepsEachDotInDimOrder) {
  // One head: the score is w * ReLU(dot), and the dot is the sequential
  // sum in dim order, fused multiply-adds where the target has them.
  ForEachHwyTarget([] {
    const bool fused = (hwy::SupportedTargets() & (HWY_AVX2 | HWY_AVX3 | HWY_AVX3_DL)) != 0;
    const int64_t dim = 128, rows = 37;
    const auto qv = Random(dim, 4), keys = Random(static_cast<size_t>(rows * dim), 5, 0.2f);
    const float w = 1.0f;
    const IndexQuery q(qv.data(), &w, 1, dim, 1.0f, IndexPrecision::kF32);
    IndexKeys k;
    k.f32 = keys.data();
    k.rows = rows;
    std::vector<float> fast(static_cast<size_t>(rows));
    KernelIndexScores(q, k, fast.data());
    for (int64_t r = 0; r < rows; ++r) {
      float dot = 0.0f;
      for (int64_t i = 0; i < dim; ++i) {
        const float p = qv[i] * keys[r * dim + i];
        dot = fused ? std::fma(qv[i], keys[r * dim + i], dot) : p + dot;
      }
      EXPECT_EQ(fast[r], std::max(dot, 0.0f)) << r;
    }
  });
}

TEST(IndexKernels, Bf16QueryIsRoundedToNearestEven) {
  const auto qv = Random(2 * 6, 6);
  const float w[2] = {1.0f, -2.0f};
  const IndexQuery q(qv.data(), w, 2, 6, 0.5f, IndexPrecision::kBf16);
  EXPECT_EQ(q.padded_heads, kIndexHeadPad);
  for (int64_t h = 0; h < 2; ++h) {
    EXPECT_EQ(q.w[h], w[h] * 0.5f);
    for (int64_t k = 0; k < 6; ++k) {
      const uint16_t b = F32ToBF16(qv[h * 6 + k]);
      EXPECT_EQ(q.q_t[k * q.padded_heads + h], BF16ToF32(b));
      EXPECT_EQ((q.pairs[k / 2 * q.padded_heads + h] >> (16 * (k % 2))) & 0xFFFF, b);
    }
  }
  for (int64_t h = 2; h < q.padded_heads; ++h) EXPECT_EQ(q.w[h], 0.0f);
}

TEST(IndexKernels, Avx512Bf16EqualsTheFmaFormExactly) {
  if (!IndexKernelsUseAvx512Bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  const int64_t heads = 64, dim = 128, rows = 67;
  const KvFieldFormat f{DType::kBF16, dim, 0};
  const Page page = Encode(f, Random(static_cast<size_t>(rows * dim), 7, 0.3f), rows);
  const auto qv = Random(static_cast<size_t>(heads * dim), 8);
  const auto wv = Random(static_cast<size_t>(heads), 9);
  const IndexQuery q(qv.data(), wv.data(), heads, dim, 0.125f, IndexPrecision::kBf16);
  IndexKeyReader reader(f, IndexPrecision::kBf16, rows);
  reader.Append(page.values.data(), nullptr, rows);
  ASSERT_NE(reader.keys().bf16, nullptr);
  std::vector<float> native(static_cast<size_t>(rows)), fma(native.size());
  KernelIndexScores(q, reader.keys(), native.data());
  IndexKeys widened;
  widened.f32 = page.decoded.data();
  widened.rows = rows;
  KernelIndexScores(q, widened, fma.data());
  EXPECT_EQ(native, fma);
}

TEST(IndexKernels, E4M3DecodesExactlyTimesTwoToTheMinusEight) {
  ForEachHwyTarget([] {
    std::vector<uint8_t> codes;
    for (int v = 0; v < 256; ++v)
      if ((v & 0x7F) != 0x7F) codes.push_back(static_cast<uint8_t>(v));  // not the NaNs
    for (size_t n : {size_t{1}, size_t{17}, codes.size()}) {
      std::vector<float> f32(n);
      std::vector<uint16_t> bf16(n);
      KernelE4M3ToF32Scaled(codes.data(), static_cast<int64_t>(n), f32.data());
      KernelE4M3ToBf16Scaled(codes.data(), static_cast<int64_t>(n), bf16.data());
      for (size_t i = 0; i < n; ++i) {
        const float want = Fp8E4M3ToF32(codes[i]) / 256.0f;
        EXPECT_EQ(f32[i], want) << int(codes[i]);
        EXPECT_EQ(BF16ToF32(bf16[i]), want) << int(codes[i]);
      }
    }
  });
}

std::vector<int32_t> TopKBySort(const std::vector<float>& s, int64_t k) {
  std::vector<int32_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] > s[b]; });
  order.resize(static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(s.size()))));
  std::sort(order.begin(), order.end());
  return order;
}

TEST(IndexerTopK, MatchesAFullSortWithTiesToTheLowerPosition) {
  std::mt19937 rng(10);
  for (int64_t count : {1, 5, 100, 1000}) {
    for (bool ties : {false, true}) {
      std::vector<float> s(static_cast<size_t>(count));
      for (float& v : s) v = ties ? static_cast<float>(rng() % 4) : Random(1, rng())[0];
      for (int64_t k : {int64_t{0}, int64_t{1}, count / 3, count - 1, count, count + 5})
        EXPECT_EQ(TopKPositions(s.data(), count, k), TopKBySort(s, k))
            << count << " " << k << " " << ties;
    }
  }
}

ModelConfig SmallIndexerConfig(int64_t max_positions) {
  auto c = LoadModelConfig(std::string(DSV32_TEST_DATA_DIR) + "/configs/deepseek-v3.2.json");
  EXPECT_TRUE(c.ok());
  ModelConfig config = *c;
  config.num_hidden_layers = 1;
  config.kv_lora_rank = 16;
  config.qk_rope_head_dim = 8;
  config.index_head_dim = 32;
  if (max_positions) config.max_position_embeddings = max_positions;
  return config;
}

KvCache FilledCache(const ModelConfig& c, KvLayout layout, int64_t page_tokens, int64_t length) {
  KvPoolOptions o;
  o.layout = layout;
  o.page_tokens = page_tokens;
  o.budget_bytes = ((length + page_tokens - 1) / page_tokens) * KvPagePool::PageBytes(c, o);
  KvCache cache(KvPagePool::Create(c, o).value(), c, length);
  EXPECT_TRUE(cache.Reserve(length).ok());
  const auto keys = Random(static_cast<size_t>(length * c.index_head_dim), 11, 0.2f);
  for (int64_t t = 0; t < length; ++t) cache.StoreIndexKey(0, t, &keys[t * c.index_head_dim]);
  cache.SetLength(length);
  return cache;
}

TEST(IndexerSelectCausal, EqualsOneQueryAtATime) {
  const ModelConfig c = SmallIndexerConfig(0);
  ThreadPool pool(2);
  const int64_t heads = 5, dim = c.index_head_dim;
  for (KvLayout layout : {KvLayout::kF32, KvLayout::kBf16, KvLayout::kFp8}) {
    // Pages of 12 so that neither the key chunks nor the query blocks line
    // up with them; a first position past zero, as after a prefix.
    const int64_t first = 30, tokens = 41, topk = 20;
    KvCache cache = FilledCache(c, layout, 12, first + tokens);
    const auto q = Random(static_cast<size_t>(tokens * heads * dim), 12);
    const auto w = Random(static_cast<size_t>(tokens * heads), 13);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      std::vector<std::vector<int32_t>> selected;
      IndexerSelectCausal(cache, 0, q.data(), w.data(), heads, first, tokens, topk, p, &selected);
      ASSERT_EQ(selected.size(), static_cast<size_t>(tokens));
      for (int64_t i = 0; i < tokens; ++i) {
        const int64_t visible = first + i + 1;
        std::vector<float> scores(static_cast<size_t>(visible));
        IndexerScores(cache, 0, &q[i * heads * dim], &w[i * heads], heads, visible, nullptr,
                      scores.data());
        EXPECT_EQ(selected[i], TopKPositions(scores.data(), visible, topk))
            << KvLayoutName(layout) << " query " << i;
      }
    }
  }
}

// V3.2's max_position_embeddings (163840): the cache takes every position
// and the decode scan selects over all of them (one head, to stay quick).
TEST(IndexerLongContext, AcceptsMaxPositionEmbeddings) {
  const ModelConfig c = SmallIndexerConfig(0);
  ASSERT_EQ(c.max_position_embeddings, 163840);
  const int64_t L = c.max_position_embeddings;
  KvCache cache = FilledCache(c, KvLayout::kFp8, 64, L);
  EXPECT_EQ(cache.Reserve(L + 1).code(), StatusCode::kOutOfRange);
  const auto q = Random(static_cast<size_t>(c.index_head_dim), 14);
  const float w = 1.0f;
  std::vector<float> scores(static_cast<size_t>(L));
  ThreadPool pool(2);
  IndexerScores(cache, 0, q.data(), &w, 1, L, &pool, scores.data());
  const std::vector<int32_t> picked = TopKPositions(scores.data(), L, c.index_topk);
  ASSERT_EQ(picked.size(), static_cast<size_t>(c.index_topk));
  EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end()));
  float kth = scores[picked[0]];
  for (int32_t t : picked) kth = std::min(kth, scores[t]);
  EXPECT_LT(std::count_if(scores.begin(), scores.end(), [&](float s) { return s > kth; }),
            c.index_topk);
}

}  // namespace
}  // namespace dsv32
