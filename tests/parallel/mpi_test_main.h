// The main() of the test binaries run under mpirun: it starts MPI, makes the
// world communicator the tests share, and fails every rank when one fails.
#pragma once

#include "parallel/communicator.h"

namespace dsv32 {

// A private duplicate of MPI_COMM_WORLD, alive while the tests run.
Communicator& MpiTestWorld();

}  // namespace dsv32
