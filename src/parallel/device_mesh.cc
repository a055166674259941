#include "parallel/device_mesh.h"

#include <exception>
#include <thread>

#include "parallel/mesh_groups.h"

namespace dsv32 {

CommStats SimulatedDevice::comm_stats() const {
  CommStats total;
  for (const auto* c : {&world_, &tp_, &ep_, &dp_})
    if (*c) total += (*c)->stats();
  return total;
}

Result<std::unique_ptr<DeviceMesh>> DeviceMesh::Create(const MeshShape& shape,
                                                       int64_t memory_budget_bytes) {
  if (shape.tp < 1 || shape.ep < 1 || shape.dp < 1 || shape.size() > kMaxMeshDevices)
    return InvalidArgument("mesh " + shape.ToString() + " is not a valid shape");
  std::unique_ptr<DeviceMesh> mesh(new DeviceMesh());
  mesh->shape_ = shape;
  mesh->cancellation_ = std::make_shared<CollectiveCancellation>();
  std::vector<std::unique_ptr<Communicator>> world =
      MakeInProcessWorld(shape.size(), mesh->cancellation_);
  for (int r = 0; r < shape.size(); ++r) {
    auto d = std::make_unique<SimulatedDevice>();
    d->rank_ = r;
    d->coord_ = shape.CoordOf(r);
    d->shape_ = shape;
    d->memory_ = DeviceMemory(memory_budget_bytes);
    d->world_ = std::move(world[static_cast<size_t>(r)]);
    mesh->devices_.push_back(std::move(d));
  }
  // The groups are made by splitting the world, which every rank joins.
  DSV32_RETURN_IF_ERROR(mesh->Run([&shape](SimulatedDevice& d) -> Status {
    DSV32_ASSIGN_OR_RETURN(MeshGroups g, SplitMeshGroups(d.world(), shape));
    d.tp_ = std::move(g.tp);
    d.ep_ = std::move(g.ep);
    d.dp_ = std::move(g.dp);
    return Status::Ok();
  }));
  return mesh;
}

Status DeviceMesh::Run(const std::function<Status(SimulatedDevice&)>& fn) {
  if (broken_)
    return InvalidArgument("this mesh was stopped by an earlier failure; create a new one");
  std::vector<Status> results(devices_.size());
  std::vector<std::thread> threads;
  threads.reserve(devices_.size());
  for (size_t r = 0; r < devices_.size(); ++r) {
    threads.emplace_back([&, r] {
      Status s;
      try {
        s = fn(*devices_[r]);
      } catch (const std::exception& e) {
        s = Internal(std::string("device threw: ") + e.what());
      } catch (...) {
        s = Internal("device threw a non-standard exception");
      }
      if (!s.ok()) cancellation_->cancelled.store(true);
      results[r] = std::move(s);
    });
  }
  for (auto& t : threads) t.join();
  const Status* first = nullptr;
  for (size_t r = 0; r < results.size(); ++r) {
    if (results[r].ok()) continue;
    if (!first ||
        (first->code() == StatusCode::kCancelled && results[r].code() != StatusCode::kCancelled))
      first = &results[r];
  }
  if (!first) return Status::Ok();
  broken_ = true;
  const size_t rank = static_cast<size_t>(first - results.data());
  return first->WithContext("device " + std::to_string(rank));
}

}  // namespace dsv32
