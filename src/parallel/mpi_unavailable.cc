// Stand-ins for a build without MPI: the backend reports that it is absent.
#include "parallel/mpi_communicator.h"

namespace dsv32 {

namespace {
Status NotBuilt() {
  return Unsupported("this build of libdsv32 has no MPI backend (MPI was not found at build time)");
}
}  // namespace

bool MpiBackendAvailable() { return false; }
Result<std::unique_ptr<MpiSession>> MpiSession::Start(int*, char***) { return NotBuilt(); }
MpiSession::~MpiSession() = default;
Result<std::unique_ptr<Communicator>> MakeMpiWorld() { return NotBuilt(); }

}  // namespace dsv32
