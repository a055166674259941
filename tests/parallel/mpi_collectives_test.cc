// The collective cases over MPI: run under mpirun with 2 or 4 processes.
#include <gtest/gtest.h>

#include "collective_cases.h"
#include "mpi_test_main.h"
#include "parallel/mesh_groups.h"

namespace dsv32 {
namespace {

// Each case gets a fresh communicator, so its accounting starts at zero.
std::unique_ptr<Communicator> Fresh() {
  auto c = MpiTestWorld().Split(0, MpiTestWorld().rank());
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
  const int n = MpiTestWorld().size();
  const MeshShape shape = n % 4 == 0 ? MeshShape{2, 2, n / 4} : MeshShape{n, 1, 1};
  auto g = SplitMeshGroups(MpiTestWorld(), shape);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const MeshCoord c = shape.CoordOf(MpiTestWorld().rank());
  EXPECT_EQ(g->tp->rank(), c.tp);
  EXPECT_EQ(g->ep->rank(), c.ep);
  EXPECT_EQ(g->dp->rank(), c.dp);
  std::vector<float> v = {static_cast<float>(MpiTestWorld().rank())};
  ASSERT_TRUE(g->tp->AllReduceSum(v).ok());
  float want = 0;
  for (int t = 0; t < shape.tp; ++t) want += static_cast<float>(shape.RankOf({t, c.ep, c.dp}));
  EXPECT_EQ(v[0], want);
  EXPECT_FALSE(SplitMeshGroups(MpiTestWorld(), MeshShape{n + 1, 1, 1}).ok());
}

}  // namespace
}  // namespace dsv32
