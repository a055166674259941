// The sharded forward pass over MPI, one process per device: run under
// mpirun with 2 or 4 processes, every mesh shape of that many devices that
// divides tiny-a or tiny-b scores its golden sequence (the indexer split
// over TP), and world rank 0 checks the logits against the fixture and
// against the same mesh over simulated devices, bit for bit: every sum is
// taken in rank order whatever the backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "model/golden.h"
#include "mpi_test_main.h"
#include "parallel/mesh_score.h"

namespace dsv32 {
namespace {

class MeshMpiTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = testing::FixtureDir(GetParam());
    // Every rank sees the same file system, so all skip or none.
    if (!std::filesystem::exists(dir_ + "/golden.safetensors"))
      GTEST_SKIP() << "fixture '" << GetParam() << "' not found at " << dir_;
    auto model = Model::Load(dir_);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = std::move(model).value();
    golden_ = testing::Golden::Open(dir_);
  }

  std::string dir_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<testing::Golden> golden_;
};

TEST_P(MeshMpiTest, EveryMeshOfTheWorldMatchesGoldenLogits) {
  const int n = MpiTestWorld().size();
  const std::vector<int32_t> tokens = golden_->I32("input_ids");
  const int64_t prefill = golden_->I32("prefill_len").at(0);
  const std::vector<ScoreSequence> sequences = {{tokens, static_cast<int64_t>(tokens.size())},
                                                {tokens, prefill}};
  int shapes = 0;
  for (int tp = 1; tp <= n; tp *= 2)
    for (int ep = 1; tp * ep <= n; ep *= 2) {
      if (n % (tp * ep) != 0) continue;
      const MeshShape shape{tp, ep, n / (tp * ep)};
      if (shape.dp > 2) continue;  // the DP range; keeps the sanitizer run short
      if (!ShardingPlan::Create(model_->config(), shape, ShardingOptions{}).ok()) continue;
      ++shapes;
      MeshScoreResult result;
      Status s =
          ScoreOnWorld(MpiTestWorld(), *model_, shape, sequences, ShardingOptions{}, &result);
      ASSERT_TRUE(s.ok()) << shape.ToString() << ": " << s.message();
      if (MpiTestWorld().rank() != 0) continue;
      auto in_process = ScoreInProcess(*model_, shape, sequences, ShardingOptions{});
      ASSERT_TRUE(in_process.ok()) << in_process.status().message();
      EXPECT_TRUE(in_process->logits == result.logits) << shape.ToString();
      const char* keys[2] = {"full_logits", "logits"};
      for (int q = 0; q < 2; ++q) {
        const testing::RowStats st =
            testing::CompareRows(result.logits[static_cast<size_t>(q)], golden_->F32(keys[q]),
                                 model_->config().vocab_size);
        EXPECT_LE(st.worst_rel_error, 1e-4) << shape.ToString() << " " << keys[q];
        EXPECT_GE(st.top1_agreement, 0.99) << shape.ToString() << " " << keys[q];
        std::printf("  mpi np=%d %-8s %-16s %-12s worst row relative error %.3g, top-1 %.4f\n", n,
                    GetParam(), shape.ToString().c_str(), keys[q], st.worst_rel_error,
                    st.top1_agreement);
      }
    }
  EXPECT_GT(shapes, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MeshMpiTest, ::testing::Values("tiny-a", "tiny-b"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dsv32
