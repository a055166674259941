// Cost of the in-process collectives the simulated mesh runs on: 64
// back-to-back collectives per iteration on every device of a mesh.
#include <benchmark/benchmark.h>

#include <vector>

#include "parallel/device_mesh.h"

namespace dsv32 {
namespace {

constexpr int kCollectivesPerRun = 64;

void BM_InProcessAllReduce(benchmark::State& state) {
  const int devices = static_cast<int>(state.range(0));
  const size_t floats = static_cast<size_t>(state.range(1));
  auto mesh = DeviceMesh::Create({devices, 1, 1});
  if (!mesh.ok()) return state.SkipWithError(mesh.status().message().c_str());
  for (auto _ : state) {
    Status s = (*mesh)->Run([&](SimulatedDevice& d) -> Status {
      std::vector<float> v(floats, 1.0f);
      for (int i = 0; i < kCollectivesPerRun; ++i) DSV32_RETURN_IF_ERROR(d.world().AllReduceSum(v));
      return Status::Ok();
    });
    if (!s.ok()) return state.SkipWithError(s.message().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kCollectivesPerRun * devices *
                          static_cast<int64_t>(floats * sizeof(float)));
}
BENCHMARK(BM_InProcessAllReduce)
    ->Args({2, 7168})
    ->Args({8, 7168})
    ->Args({8, 64 * 7168})
    ->UseRealTime();

void BM_InProcessAllToAllV(benchmark::State& state) {
  const int devices = static_cast<int>(state.range(0));
  const int64_t per_peer = state.range(1);
  auto mesh = DeviceMesh::Create({1, devices, 1});
  if (!mesh.ok()) return state.SkipWithError(mesh.status().message().c_str());
  for (auto _ : state) {
    Status s = (*mesh)->Run([&](SimulatedDevice& d) -> Status {
      const std::vector<int64_t> counts(static_cast<size_t>(devices), per_peer);
      std::vector<float> send(static_cast<size_t>(per_peer * devices), 1.0f), recv(send.size());
      for (int i = 0; i < kCollectivesPerRun; ++i)
        DSV32_RETURN_IF_ERROR(d.ep_group().AllToAllV(send, counts, recv, counts));
      return Status::Ok();
    });
    if (!s.ok()) return state.SkipWithError(s.message().c_str());
  }
  state.SetBytesProcessed(state.iterations() * kCollectivesPerRun * devices * devices * per_peer *
                          static_cast<int64_t>(sizeof(float)));
}
// 8 tokens x 7168 hidden per peer: one decode step's dispatch at EP 8.
BENCHMARK(BM_InProcessAllToAllV)->Args({8, 8 * 7168})->UseRealTime();

}  // namespace
}  // namespace dsv32
