#include "mpi_test_main.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "parallel/mpi_communicator.h"

namespace dsv32 {
namespace {
Communicator* g_world = nullptr;
}  // namespace

Communicator& MpiTestWorld() { return *g_world; }

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
