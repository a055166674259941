// N simulated devices in one process, one thread each, laid out as a
// TP x EP x DP mesh. Each device has its own memory budget and accounting and
// its communicators: the world, its TP group (the devices splitting one
// layer's heads), its EP group (the devices splitting the routed experts and
// exchanging tokens) and its DP group (the replicas of one shard).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/status.h"
#include "parallel/communicator.h"
#include "parallel/device_memory.h"
#include "parallel/in_process_communicator.h"
#include "parallel/mesh_shape.h"

namespace dsv32 {

class SimulatedDevice {
 public:
  int rank() const { return rank_; }
  MeshCoord coord() const { return coord_; }
  const MeshShape& shape() const { return shape_; }
  DeviceMemory& memory() { return memory_; }
  const DeviceMemory& memory() const { return memory_; }

  Communicator& world() { return *world_; }
  Communicator& tp_group() { return *tp_; }
  Communicator& ep_group() { return *ep_; }
  Communicator& dp_group() { return *dp_; }

  // Traffic over all of this device's communicators, since it was made, and
  // since the last BeginStep().
  CommStats comm_stats() const;
  void BeginStep() { step_start_ = comm_stats(); }
  CommStats step_comm_stats() const { return comm_stats() - step_start_; }

 private:
  friend class DeviceMesh;
  int rank_ = 0;
  MeshCoord coord_;
  MeshShape shape_;
  DeviceMemory memory_;
  std::unique_ptr<Communicator> world_, tp_, ep_, dp_;
  CommStats step_start_;
};

class DeviceMesh {
 public:
  // memory_budget_bytes per device; <= 0 is unlimited.
  static Result<std::unique_ptr<DeviceMesh>> Create(const MeshShape& shape,
                                                    int64_t memory_budget_bytes = 0);

  const MeshShape& shape() const { return shape_; }
  int size() const { return shape_.size(); }
  SimulatedDevice& device(int rank) { return *devices_[static_cast<size_t>(rank)]; }

  // Runs fn on every device at once, each on its own thread, and waits for
  // all. When one device fails, the others' pending collectives are
  // cancelled; the first failure (by rank) that is not a cancellation is
  // returned, and the mesh cannot run again.
  Status Run(const std::function<Status(SimulatedDevice&)>& fn);

 private:
  DeviceMesh() = default;
  MeshShape shape_;
  std::shared_ptr<CollectiveCancellation> cancellation_;
  std::vector<std::unique_ptr<SimulatedDevice>> devices_;
  bool broken_ = false;
};

}  // namespace dsv32
