#include "parallel/sharding_plan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "model_configs.h"

namespace dsv32 {
namespace {

using test_configs::Load;

// Over all ranks of one (ep, dp) slice, every element of a split tensor is
// held exactly once (scales may be held twice at a shard boundary inside a
// block); replicated ones are held whole everywhere; routed experts are held
// by exactly one EP rank per TP slice.
void CheckCoverage(const ModelConfig& config, const MeshShape& mesh) {
  auto plan = ShardingPlan::Create(config, mesh);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (const auto& t : CheckpointTensors(config)) {
    for (int dp = 0; dp < mesh.dp; ++dp) {
      int64_t held = 0;
      for (int ep = 0; ep < mesh.ep; ++ep)
        for (int tp = 0; tp < mesh.tp; ++tp) {
          auto s = plan->ShardOf(t, mesh.RankOf({tp, ep, dp}));
          ASSERT_TRUE(s.ok()) << s.status().message();
          if (s->present) {
            EXPECT_LE(s->rows.end, t.shape[0]) << t.name;
            EXPECT_GE(s->rows.begin, 0) << t.name;
          }
          held += s->numel();
          if (s->kind == ShardKind::kReplicated) {
            EXPECT_EQ(s->numel(), t.numel()) << t.name;
          }
        }
      const bool replicated_everywhere = plan->ShardOf(t, 0)->kind == ShardKind::kReplicated;
      const int64_t copies = replicated_everywhere ? int64_t{mesh.tp} * mesh.ep
                             : t.expert >= 0 && !plan->options().split_experts_over_tp ? mesh.tp
                             : t.expert >= 0                                           ? 1
                                                                                       : mesh.ep;
      if (t.is_scale)
        EXPECT_GE(held, copies * t.numel()) << t.name << " on " << mesh.ToString();
      else
        EXPECT_EQ(held, copies * t.numel()) << t.name << " on " << mesh.ToString();
    }
  }
}

TEST(ShardingPlanTest, TinyFixtureCoverageOnEveryDividingMesh) {
  const std::string path = test_configs::TinyDir() + "/config.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no fixture";
  const ModelConfig c = Load(path);
  for (int tp : {1, 2, 4})
    for (int ep : {1, 2, 4, 8})
      for (int dp : {1, 2})
        if (tp * ep * dp <= 8) CheckCoverage(c, {tp, ep, dp});
}

TEST(ShardingPlanTest, V32HeadsExpertsAndShards) {
  const ModelConfig c = Load(test_configs::V32Path());
  auto plan = ShardingPlan::Create(c, {8, 8, 1});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->attention_heads(3), (IndexRange{48, 64}));
  EXPECT_EQ(plan->indexer_heads(3), (IndexRange{24, 32}));
  EXPECT_EQ(plan->routed_experts(7), (IndexRange{224, 256}));
  EXPECT_EQ(plan->vocab_rows(1), (IndexRange{16160, 32320}));

  const auto tensors = CheckpointTensors(c);
  auto find = [&](const std::string& name) -> const CheckpointTensor& {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    ADD_FAILURE() << "no tensor " << name;
    return tensors[0];
  };
  const int rank = MeshShape{8, 8, 1}.RankOf({3, 7, 0});
  auto q = plan->ShardOf(find("model.layers.10.self_attn.q_b_proj.weight"), rank);
  EXPECT_EQ(q->kind, ShardKind::kColumnParallel);
  EXPECT_EQ(q->rows, (IndexRange{48 * 192, 64 * 192}));
  EXPECT_EQ(q->cols, (IndexRange{0, 1536}));
  auto qs = plan->ShardOf(find("model.layers.10.self_attn.q_b_proj.weight_scale_inv"), rank);
  EXPECT_EQ(qs->rows, (IndexRange{72, 96}));
  auto kvb = plan->ShardOf(find("model.layers.10.self_attn.kv_b_proj.weight"), rank);
  EXPECT_EQ(kvb->rows, (IndexRange{48 * 256, 64 * 256}));
  auto o = plan->ShardOf(find("model.layers.10.self_attn.o_proj.weight"), rank);
  EXPECT_EQ(o->kind, ShardKind::kRowParallel);
  EXPECT_EQ(o->cols, (IndexRange{48 * 128, 64 * 128}));
  auto wq = plan->ShardOf(find("model.layers.10.self_attn.indexer.wq_b.weight"), rank);
  EXPECT_EQ(wq->rows, (IndexRange{24 * 128, 32 * 128}));
  auto wk = plan->ShardOf(find("model.layers.10.self_attn.indexer.wk.weight"), rank);
  EXPECT_EQ(wk->kind, ShardKind::kReplicated);
  auto dense = plan->ShardOf(find("model.layers.0.mlp.down_proj.weight"), rank);
  EXPECT_EQ(dense->cols, (IndexRange{3 * 2304, 4 * 2304}));
  auto shared = plan->ShardOf(find("model.layers.10.mlp.shared_experts.up_proj.weight"), rank);
  EXPECT_EQ(shared->rows, (IndexRange{768, 1024}));
  auto mine = plan->ShardOf(find("model.layers.10.mlp.experts.230.gate_proj.weight"), rank);
  EXPECT_TRUE(mine->present);
  EXPECT_EQ(mine->rows, (IndexRange{768, 1024}));
  auto other = plan->ShardOf(find("model.layers.10.mlp.experts.3.gate_proj.weight"), rank);
  EXPECT_FALSE(other->present);
  EXPECT_EQ(other->numel(), 0);
  auto router = plan->ShardOf(find("model.layers.10.mlp.gate.weight"), rank);
  EXPECT_EQ(router->kind, ShardKind::kReplicated);
}

TEST(ShardingPlanTest, V32CoverageOnSmallMeshes) {
  const ModelConfig c = Load(test_configs::V32Path());
  CheckCoverage(c, {2, 2, 1});
}

TEST(ShardingPlanTest, WholeExpertsWhenNotSplitOverTp) {
  const ModelConfig c = Load(test_configs::V32Path());
  ShardingOptions o;
  o.split_experts_over_tp = false;
  auto plan = ShardingPlan::Create(c, {2, 4, 1}, o);
  ASSERT_TRUE(plan.ok());
  CheckpointTensor t;
  for (const auto& x : CheckpointTensors(c))
    if (x.name == "model.layers.3.mlp.experts.0.down_proj.weight") t = x;
  auto s = plan->ShardOf(t, 1);
  EXPECT_TRUE(s->present);
  EXPECT_EQ(s->numel(), t.numel());
}

TEST(ShardingPlanTest, DivisibilityErrorsNameTheField) {
  const ModelConfig v32 = Load(test_configs::V32Path());
  auto bad_tp = ShardingPlan::Create(v32, {3, 1, 1});
  ASSERT_FALSE(bad_tp.ok());
  EXPECT_NE(bad_tp.status().message().find("num_attention_heads (128) is not divisible by tp (3)"),
            std::string::npos)
      << bad_tp.status().message();
  auto bad_ep = ShardingPlan::Create(v32, {1, 3, 1});
  ASSERT_FALSE(bad_ep.ok());
  EXPECT_NE(bad_ep.status().message().find("n_routed_experts"), std::string::npos);
  // 64 indexer heads do not split 128 ways even though 128 attention heads do.
  auto bad_ix = ShardingPlan::Create(v32, {128, 1, 1});
  ASSERT_FALSE(bad_ix.ok());
  EXPECT_NE(bad_ix.status().message().find("index_n_heads"), std::string::npos);
  const std::string tiny = test_configs::TinyDir() + "/config.json";
  if (std::filesystem::exists(tiny)) {
    auto t8 = ShardingPlan::Create(Load(tiny), {8, 1, 1});
    ASSERT_FALSE(t8.ok());
    EXPECT_NE(t8.status().message().find("num_attention_heads (4)"), std::string::npos);
  }
}

TEST(ShardingPlanTest, SequencesSpreadOverAttentionReplicas) {
  const ModelConfig c = Load(test_configs::V32Path());
  auto plan = ShardingPlan::Create(c, {2, 2, 2});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->mesh().attention_replicas(), 4);
  EXPECT_EQ(plan->SequenceOwner(5), 1);
  int64_t total = 0;
  for (int r = 0; r < 4; ++r) total += plan->SequencesOwned(r, 10);
  EXPECT_EQ(total, 10);
  EXPECT_EQ(plan->SequencesOwned(0, 10), 3);
  EXPECT_EQ(plan->SequencesOwned(3, 10), 2);
}

}  // namespace
}  // namespace dsv32
