#include "parallel/mesh_shape.h"

#include <gtest/gtest.h>

namespace dsv32 {
namespace {

TEST(MeshShapeTest, ParsesAndDefaults) {
  auto m = ParseMeshShape("tp=2,ep=4,dp=1");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(*m, (MeshShape{2, 4, 1}));
  EXPECT_EQ(m->size(), 8);
  auto only_ep = ParseMeshShape("ep=8");
  ASSERT_TRUE(only_ep.ok());
  EXPECT_EQ(*only_ep, (MeshShape{1, 8, 1}));
  EXPECT_EQ(ParseMeshShape("dp=2,tp=4")->ToString(), "tp=4,ep=1,dp=2");
}

TEST(MeshShapeTest, RejectsJunkWithClearErrors) {
  for (const char* bad : {"", "tp", "tp=0", "tp=-1", "tp=2x", "xp=2", "tp=2,tp=2", "tp=2,",
                          "tp=", "tp=99999999999", "tp=4096,ep=2"}) {
    auto m = ParseMeshShape(bad);
    EXPECT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("mesh"), std::string::npos);
  }
  EXPECT_NE(ParseMeshShape("xp=2").status().message().find("unknown key 'xp'"), std::string::npos);
}

TEST(MeshShapeTest, RankAndCoordRoundTrip) {
  const MeshShape m{2, 3, 2};
  for (int r = 0; r < m.size(); ++r) EXPECT_EQ(m.RankOf(m.CoordOf(r)), r);
  EXPECT_EQ(m.CoordOf(0), (MeshCoord{0, 0, 0}));
  EXPECT_EQ(m.CoordOf(1), (MeshCoord{1, 0, 0}));  // TP is the fastest axis
  EXPECT_EQ(m.CoordOf(2), (MeshCoord{0, 1, 0}));
  EXPECT_EQ(m.CoordOf(6), (MeshCoord{0, 0, 1}));
  EXPECT_EQ(m.attention_replicas(), 6);
}

}  // namespace
}  // namespace dsv32
