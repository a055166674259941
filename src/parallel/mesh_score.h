// Teacher-forced scoring over a mesh, as `dsv32 score` does on one device:
// each sequence's first prefill_len tokens run as one batch, the rest one
// token at a time through the KV cache. Sequences are spread over the
// attention replicas (ShardingPlan::SequenceOwner); in each round every
// replica scores one of its sequences, all ranks stepping in lockstep, a
// replica with nothing left passing empty steps. The same code runs on the
// simulated devices of a DeviceMesh and on MPI processes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"
#include "parallel/communicator.h"
#include "parallel/device_memory.h"
#include "parallel/mesh_forward.h"
#include "parallel/sharding_plan.h"

namespace dsv32 {

struct ScoreSequence {
  std::vector<int32_t> tokens;
  int64_t prefill_len = 0;
};

// What one rank held and sent. Communication counts every collective of
// the forward passes; a step is one forward pass (a prefill or a decode).
struct RankReport {
  int32_t rank = 0;
  MeshCoord coord;
  int64_t weight_bytes = 0;  // matrix + scale + vector
  int64_t matrix_bytes = 0;
  int64_t scale_bytes = 0;
  int64_t vector_bytes = 0;
  int64_t kv_bytes = 0;  // the largest KV cache this rank held
  int64_t steps = 0;
  int64_t comm_sent = 0;
  int64_t comm_received = 0;
  int64_t max_step_sent = 0;  // the busiest step's bytes sent
  int64_t max_step_received = 0;
  std::array<int64_t, kNumCollectiveKinds> sent_by_kind{};
};

struct MeshScoreResult {
  std::vector<std::vector<float>> logits;  // per sequence, [tokens, vocab]
  std::vector<RankReport> ranks;           // by world rank
};

struct MeshRank {
  Communicator* world = nullptr;  // size = mesh size, rank = mesh rank
  MeshComms groups;
  DeviceMemory* memory = nullptr;  // weight and KV bytes are reserved here
};

// Checks the sequences against the model before any rank starts, so a bad
// input fails the same way on every rank instead of stalling a collective.
Status CheckSequences(const ModelConfig& config, std::span<const ScoreSequence> sequences);

// Collective over `rank.world`: slices this rank's weights from `model` by
// `plan`, scores every sequence, and gathers logits and reports to world
// rank 0, the only rank whose `result` is filled.
Status ScoreOnRank(const Model& model, const ShardingPlan& plan, const MeshRank& rank,
                   std::span<const ScoreSequence> sequences, MeshScoreResult* result);

// Every rank a simulated device of one process.
Result<MeshScoreResult> ScoreInProcess(const Model& model, const MeshShape& shape,
                                       std::span<const ScoreSequence> sequences,
                                       ShardingOptions options);

// Every rank a process (or any world communicator of the mesh's size): the
// TP, EP and DP groups are split from `world`. Collective over `world`;
// `result` is filled on world rank 0.
Status ScoreOnWorld(Communicator& world, const Model& model, const MeshShape& shape,
                    std::span<const ScoreSequence> sequences, ShardingOptions options,
                    MeshScoreResult* result);

}  // namespace dsv32
