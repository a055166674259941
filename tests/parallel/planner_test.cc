#include "parallel/planner.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "model_configs.h"
#include "model/weight_catalog.h"

namespace dsv32 {
namespace {

using test_configs::Load;

PlanRequest Request(const ModelConfig& c, MeshShape mesh, const char* device) {
  PlanRequest r;
  r.config = c;
  r.mesh = mesh;
  r.device = FindDevicePreset(device).value();
  return r;
}

// The figures of docs/kv-cache-size.md.
TEST(KvCacheSizeTest, MatchesTheHandComputationForV32) {
  const ModelConfig c = Load(test_configs::V32Path());
  const KvTokenBytes bf16 = KvBytesPerTokenByPart(c, KvLayout::kBf16);
  EXPECT_EQ(bf16.mla, (512 + 64) * 2);
  EXPECT_EQ(bf16.indexer, 128 * 2);
  EXPECT_EQ(bf16.per_layer(), 1408);
  EXPECT_EQ(bf16.per_layer() * 61, 85888);
  EXPECT_EQ(bf16.per_layer() * 61 * 131072, 11257511936);
  const KvTokenBytes fp8 = KvBytesPerTokenByPart(c, KvLayout::kFp8);
  EXPECT_EQ(fp8.mla, 512 + 4 * 4 + 64 * 2);
  EXPECT_EQ(fp8.mla, 656);
  EXPECT_EQ(fp8.indexer, 132);
  EXPECT_EQ(fp8.per_layer() * 61, 48068);
  EXPECT_EQ(fp8.per_layer() * 61 * 131072, 6300368896);

  PlanRequest r = Request(c, {1, 1, 1}, "b200");
  r.kv = KvLayout::kFp8;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->kv_bytes_per_token(), 48068);
  EXPECT_EQ(plan->devices[0].kv_bytes, 6300368896);
}

TEST(KvCacheSizeTest, V3HasNoIndexerKey) {
  const ModelConfig c = Load(test_configs::V3Path());
  EXPECT_EQ(KvBytesPerTokenByPart(c, KvLayout::kBf16).per_layer(), 1152);
  EXPECT_EQ(KvBytesPerTokenByPart(c, KvLayout::kFp8).per_layer(), 656);
}

TEST(KvCacheSizeTest, TinyFixture) {
  const std::string path = test_configs::TinyDir() + "/config.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP();
  const ModelConfig c = Load(path);
  EXPECT_EQ(KvBytesPerTokenByPart(c, KvLayout::kBf16).per_layer(), (128 + 32) * 2 + 64 * 2);
  const KvTokenBytes fp8 = KvBytesPerTokenByPart(c, KvLayout::kFp8);
  EXPECT_EQ(fp8.mla, 128 + 4 + 64);
  EXPECT_EQ(fp8.indexer, 64 + 4);
}

TEST(PlannerTest, WholeModelFp8BytesEqualTheCheckpoint) {
  const ModelConfig c = Load(test_configs::V32Path());
  int64_t stored = 0;
  for (const auto& t : CheckpointTensors(c)) stored += t.stored_bytes();
  PlanRequest r = Request(c, {1, 1, 1}, "mi325x");
  r.mtp = true;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->model_weight_bytes, stored);
  EXPECT_EQ(plan->devices[0].weight_bytes, stored);
  EXPECT_NEAR(stored / 1e9, 689.5, 1.0);  // 685B parameters, bf16 embeddings and norms, scales
}

TEST(PlannerTest, Fp8AtTp8IsAbout86GBPerDevice) {
  // The published figure: ~86 GB of FP8 weights per GPU at TP=8 on B200.
  const ModelConfig c = Load(test_configs::V3Path());
  auto plan = MakePlan(Request(c, {8, 1, 1}, "b200"));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (const auto& d : plan->devices) EXPECT_NEAR(d.weight_bytes / 1e9, 85.1, 0.2);
  const ModelConfig v32 = Load(test_configs::V32Path());
  auto plan32 = MakePlan(Request(v32, {8, 1, 1}, "b200"));
  ASSERT_TRUE(plan32.ok());
  EXPECT_NEAR(plan32->busiest().weight_bytes / 1e9, 85.3, 0.2);
}

TEST(PlannerTest, FormatsScaleTheLinearWeights) {
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {8, 1, 1}, "h200");
  auto fp8 = MakePlan(r);
  r.weights = WeightFormat::kBf16;
  auto bf16 = MakePlan(r);
  r.weights = WeightFormat::kInt4;
  auto int4 = MakePlan(r);
  ASSERT_TRUE(fp8.ok() && bf16.ok() && int4.ok());
  EXPECT_GT(bf16->model_weight_bytes, 1.9 * fp8->model_weight_bytes);
  EXPECT_LT(int4->model_weight_bytes, 0.6 * fp8->model_weight_bytes);
  EXPECT_GT(int4->model_weight_bytes, 0.5 * fp8->model_weight_bytes);
}

TEST(PlannerTest, SingleDeviceDecodeIsBytesOverBandwidth) {
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {1, 1, 1}, "mi325x");
  r.context = 4096;
  r.concurrency = 1;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  const DecodeEstimate& e = plan->decode;
  EXPECT_DOUBLE_EQ(e.expert_touch_fraction, 8.0 / 256.0);
  EXPECT_EQ(e.tp_allreduce_bytes, 0);
  EXPECT_EQ(e.ep_alltoall_bytes, 0);
  // The indexer reads every key; attention reads the top 2048 latents.
  EXPECT_EQ(e.kv_bytes_read, 61 * (132 * 4096 + 656 * 2048));
  EXPECT_DOUBLE_EQ(e.step_seconds(),
                   static_cast<double>(e.weight_bytes_read + e.kv_bytes_read) / 6000e9);
  EXPECT_DOUBLE_EQ(e.tokens_per_second, 1.0 / e.step_seconds());
}

TEST(PlannerTest, ExpertParallelMovesTokensAndSplitsExperts) {
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {1, 8, 1}, "h200");
  r.concurrency = 64;
  r.context = 8192;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->decode.sequences_per_replica, 8);
  // 58 MoE layers, 8 tokens x 8 experts, 7/8 off-rank, fp8 out + bf16 back.
  EXPECT_EQ(plan->decode.ep_alltoall_bytes, 58 * 8 * 8 * 7168 * 3 * 7 / 8);
  // 32 of 256 experts per device.
  const auto& d = plan->devices[3];
  EXPECT_NEAR(static_cast<double>(d.routed_expert_bytes) / (58.0 * 32 * 3 * 2048 * 7168), 1.0,
              0.01);
  EXPECT_EQ(d.sequences, 8);
  EXPECT_EQ(plan->max_sequences % 8, 0);
}

TEST(PlannerTest, SplitIndexerAllReducesTheIndexScores) {
  // What the mesh forward sends: each layer's f32 scores of every sequence
  // over its context, ring all-reduced over TP before the top-k.
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {8, 1, 1}, "h200");
  r.concurrency = 8;
  r.context = 131072;
  auto split = MakePlan(r);
  r.sharding.split_indexer_over_tp = false;
  auto whole = MakePlan(r);
  ASSERT_TRUE(split.ok() && whole.ok());
  EXPECT_EQ(split->decode.tp_allreduce_bytes - whole->decode.tp_allreduce_bytes,
            int64_t{61} * 2 * 7 * (8 * 131072 * 4) / 8);
}

TEST(PlannerTest, ReportsWhatDoesNotFit) {
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {8, 1, 1}, "h100");
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->fits());  // 85 GB of weights on an 80 GB device
  EXPECT_EQ(plan->max_sequences, 0);
  EXPECT_NE(PlanToText(*plan).find("DOES NOT FIT"), std::string::npos);
  EXPECT_NE(PlanToJson(*plan).find("\"fits\": false"), std::string::npos);
}

TEST(PlannerTest, RejectsBadRequests) {
  const ModelConfig c = Load(test_configs::V32Path());
  PlanRequest r = Request(c, {3, 1, 1}, "h200");
  EXPECT_NE(MakePlan(r).status().message().find("not divisible by tp"), std::string::npos);
  r.mesh = {1, 1, 1};
  r.context = 0;
  EXPECT_FALSE(MakePlan(r).ok());
  EXPECT_FALSE(ParseWeightFormat("fp4").ok());
  EXPECT_FALSE(ParseKvLayout("int8").ok());
  EXPECT_FALSE(FindDevicePreset("a100").ok());
  EXPECT_TRUE(FindDevicePreset("MI325X").ok());
}

}  // namespace
}  // namespace dsv32
