#include "parallel/device_mesh.h"

#include <gtest/gtest.h>

#include <atomic>

namespace dsv32 {
namespace {

TEST(DeviceMeshTest, GroupsMatchCoordinates) {
  for (MeshShape shape : {MeshShape{1, 1, 1}, MeshShape{2, 2, 2}, MeshShape{2, 4, 1},
                          MeshShape{4, 1, 2}, MeshShape{1, 8, 1}}) {
    auto mesh = DeviceMesh::Create(shape);
    ASSERT_TRUE(mesh.ok()) << mesh.status().message();
    Status s = (*mesh)->Run([&](SimulatedDevice& d) -> Status {
      const MeshCoord c = d.coord();
      if (d.tp_group().size() != shape.tp || d.tp_group().rank() != c.tp ||
          d.ep_group().size() != shape.ep || d.ep_group().rank() != c.ep ||
          d.dp_group().size() != shape.dp || d.dp_group().rank() != c.dp)
        return Internal("group sizes or ranks do not match coordinates");
      // Gather world ranks across each group; they must differ only along
      // that group's axis.
      const float me = static_cast<float>(d.rank());
      std::vector<float> tp(static_cast<size_t>(shape.tp));
      DSV32_RETURN_IF_ERROR(d.tp_group().AllGather(std::span<const float>(&me, 1), tp));
      for (int t = 0; t < shape.tp; ++t)
        if (tp[static_cast<size_t>(t)] != shape.RankOf({t, c.ep, c.dp}))
          return Internal("tp group members");
      std::vector<float> ep(static_cast<size_t>(shape.ep));
      DSV32_RETURN_IF_ERROR(d.ep_group().AllGather(std::span<const float>(&me, 1), ep));
      for (int e = 0; e < shape.ep; ++e)
        if (ep[static_cast<size_t>(e)] != shape.RankOf({c.tp, e, c.dp}))
          return Internal("ep group members");
      std::vector<float> dp(static_cast<size_t>(shape.dp));
      DSV32_RETURN_IF_ERROR(d.dp_group().AllGather(std::span<const float>(&me, 1), dp));
      for (int q = 0; q < shape.dp; ++q)
        if (dp[static_cast<size_t>(q)] != shape.RankOf({c.tp, c.ep, q}))
          return Internal("dp group members");
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << shape.ToString() << ": " << s.message();
  }
}

TEST(DeviceMeshTest, StepAccountingCountsEveryGroup) {
  auto mesh = DeviceMesh::Create({2, 2, 1});
  ASSERT_TRUE(mesh.ok());
  Status s = (*mesh)->Run([](SimulatedDevice& d) -> Status {
    d.BeginStep();
    std::vector<float> v(256, 1.0f);  // 1 KiB
    DSV32_RETURN_IF_ERROR(d.tp_group().AllReduceSum(v));
    DSV32_RETURN_IF_ERROR(d.ep_group().AllReduceSum(v));
    const CommStats step = d.step_comm_stats();
    // Two 2-rank all-reduces of 1 KiB: 1 KiB each way per call.
    if (step[CollectiveKind::kAllReduce].calls != 2 || step.total_sent() != 2048)
      return Internal("step accounting " + std::to_string(step.total_sent()));
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(DeviceMeshTest, MemoryBudgetIsPerDevice) {
  auto mesh = DeviceMesh::Create({2, 1, 1}, 1000);
  ASSERT_TRUE(mesh.ok());
  SimulatedDevice& d = (*mesh)->device(0);
  EXPECT_TRUE(d.memory().Reserve(MemoryKind::kWeights, 600).ok());
  EXPECT_TRUE(d.memory().Reserve(MemoryKind::kKvCache, 300).ok());
  const Status over = d.memory().Reserve(MemoryKind::kActivations, 200);
  EXPECT_EQ(over.code(), StatusCode::kOutOfMemory);
  EXPECT_EQ(d.memory().used(), 900);
  EXPECT_TRUE(d.memory().Release(MemoryKind::kKvCache, 300).ok());
  EXPECT_FALSE(d.memory().Release(MemoryKind::kKvCache, 1).ok());
  EXPECT_EQ(d.memory().peak(), 900);
  EXPECT_EQ((*mesh)->device(1).memory().used(), 0);
}

TEST(DeviceMeshTest, FailureOnOneDeviceCancelsTheOthers) {
  auto mesh = DeviceMesh::Create({4, 1, 1});
  ASSERT_TRUE(mesh.ok());
  Status s = (*mesh)->Run([](SimulatedDevice& d) -> Status {
    if (d.rank() == 2) return InvalidArgument("bad shard");
    // The others wait in a collective rank 2 never joins.
    std::vector<float> v(4);
    return d.world().AllReduceSum(v);
  });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("device 2"), std::string::npos) << s.message();
  EXPECT_FALSE((*mesh)->Run([](SimulatedDevice&) { return Status::Ok(); }).ok());
}

}  // namespace
}  // namespace dsv32
