// The TP, EP and DP communicators of one rank, split from a world
// communicator of any backend, so the simulated mesh and an MPI run build
// their groups the same way.
#pragma once

#include <memory>

#include "parallel/communicator.h"
#include "parallel/mesh_shape.h"

namespace dsv32 {

struct MeshGroups {
  std::unique_ptr<Communicator> tp;  // same (ep, dp); rank = tp coordinate
  std::unique_ptr<Communicator> ep;  // same (tp, dp); rank = ep coordinate
  std::unique_ptr<Communicator> dp;  // same (tp, ep); rank = dp coordinate
};

// Collective over world, whose size must equal shape.size().
Result<MeshGroups> SplitMeshGroups(Communicator& world, const MeshShape& shape);

}  // namespace dsv32
