// The Communicator over MPI, one process per device: the same collectives,
// results and accounting as the in-process backend. Reductions gather every
// rank's contribution and sum in rank order instead of calling MPI's own
// reductions, whose order depends on the algorithm MPI picks, so a mesh run
// gives the same bits in-process and over MPI.
//
// Built only when MPI was found (DSV32_HAVE_MPI); otherwise every function
// here reports kUnsupported.
#pragma once

#include <memory>

#include "parallel/communicator.h"

namespace dsv32 {

bool MpiBackendAvailable();

// Initializes MPI for the life of the object (unless the host program
// already did) and finalizes it on destruction if it initialized it.
class MpiSession {
 public:
  static Result<std::unique_ptr<MpiSession>> Start(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  MpiSession() = default;
  bool owns_ = false;
};

// A private duplicate of MPI_COMM_WORLD; needs a live MpiSession, and must be
// destroyed before it.
Result<std::unique_ptr<Communicator>> MakeMpiWorld();

}  // namespace dsv32
