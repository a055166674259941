// The collective cases over MPI: run under mpirun with 2 or 4 processes.
#include <gtest/gtest.h>

#include "collective_cases.h"
#include "parallel/mesh_groups.h"
#include "parallel/mpi_communicator.h"

namespace dsv32 {
namespace {

Communicator* g_world = nullptr;

// Each case gets a fresh communicator, so its accounting starts at zero.
std::unique_ptr<Communicator> Fresh() {
  auto c = g_world->Split(0, g_world->rank());
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : nullptr;
}

#define DSV32_MPI_CASE(Name)                          \
  TEST(MpiCollectives, Name) {                        \
    auto c = Fresh();                                 \
    ASSERT_NE(c, nullptr);                            \
    const std::string f = collective_cases::Name(*c); \
    EXPECT_TRUE(f.empty()) << f;                      \
  }

DSV32_MPI_CASE(AllReduceSum)
DSV32_MPI_CASE(LargeAllReduceSum)
DSV32_MPI_CASE(AllGather)
DSV32_MPI_CASE(ReduceScatterSum)
DSV32_MPI_CASE(AllToAllV)
DSV32_MPI_CASE(Broadcast)
DSV32_MPI_CASE(Barrier)
DSV32_MPI_CASE(SplitEvenOdd)
DSV32_MPI_CASE(MismatchIsAnError)

TEST(MpiCollectives, MeshGroupsMatchCoordinates) {
  const int n = g_world->size();
  const MeshShape shape = n % 4 == 0 ? MeshShape{2, 2, n / 4} : MeshShape{n, 1, 1};
  auto g = SplitMeshGroups(*g_world, shape);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const MeshCoord c = shape.CoordOf(g_world->rank());
  EXPECT_EQ(g->tp->rank(), c.tp);
  EXPECT_EQ(g->ep->rank(), c.ep);
  EXPECT_EQ(g->dp->rank(), c.dp);
  std::vector<float> v = {static_cast<float>(g_world->rank())};
  ASSERT_TRUE(g->tp->AllReduceSum(v).ok());
  float want = 0;
  for (int t = 0; t < shape.tp; ++t) want += static_cast<float>(shape.RankOf({t, c.ep, c.dp}));
  EXPECT_EQ(v[0], want);
  EXPECT_FALSE(SplitMeshGroups(*g_world, MeshShape{n + 1, 1, 1}).ok());
}

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  auto session = dsv32::MpiSession::Start(&argc, &argv);
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().message().c_str());
    return 1;
  }
  int rc = 1;
  {
    auto world = dsv32::MakeMpiWorld();
    if (!world.ok()) {
      std::fprintf(stderr, "%s\n", world.status().message().c_str());
      return 1;
    }
    dsv32::g_world = world->get();
    ::testing::InitGoogleTest(&argc, argv);
    // One rank's report is enough when all pass; failures print everywhere.
    if ((*world)->rank() != 0) {
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
    }
    rc = RUN_ALL_TESTS();
    // Every rank must agree, so one rank's failure fails the ctest.
    std::vector<float> failed = {rc != 0 ? 1.0f : 0.0f};
    if (!(*world)->AllReduceSum(failed).ok() || failed[0] != 0.0f) rc = 1;
  }
  return rc;
}
