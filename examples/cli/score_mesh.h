// The mesh path of `dsv32 score`: the same teacher-forced logits, computed
// over a TP x EP x DP mesh of simulated devices or MPI processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv32::cli {

struct ScoreMeshRequest {
  std::string model_dir;
  std::string out;
  std::string mesh;     // "tp=T,ep=E,dp=D"
  std::string backend;  // "inprocess" or "mpi"
  bool stats = false;   // per-device accounting to stderr
  std::vector<int32_t> tokens;
  int64_t prefill_len = 0;
};

// Returns the process exit code; under MPI only world rank 0 writes `out`.
int RunScoreMesh(const ScoreMeshRequest& request);

}  // namespace dsv32::cli
