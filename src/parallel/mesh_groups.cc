#include "parallel/mesh_groups.h"

namespace dsv32 {

Result<MeshGroups> SplitMeshGroups(Communicator& world, const MeshShape& shape) {
  if (world.size() != shape.size())
    return InvalidArgument("mesh " + shape.ToString() + " needs " + std::to_string(shape.size()) +
                           " ranks, the communicator has " + std::to_string(world.size()));
  const MeshCoord c = shape.CoordOf(world.rank());
  MeshGroups g;
  DSV32_ASSIGN_OR_RETURN(g.tp, world.Split(c.ep + shape.ep * c.dp, c.tp));
  DSV32_ASSIGN_OR_RETURN(g.ep, world.Split(c.tp + shape.tp * c.dp, c.ep));
  DSV32_ASSIGN_OR_RETURN(g.dp, world.Split(c.tp + shape.tp * c.ep, c.dp));
  return g;
}

}  // namespace dsv32
