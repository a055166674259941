// Memory and decode-throughput planning for a mesh, from the config alone.
//
// Memory per device: the bytes of every checkpoint tensor shard the sharding
// plan puts there (in the chosen weight format), the KV cache of the
// sequences its attention replica owns at full context, and the activations
// of one forward step. The decode estimate is a bandwidth model (see
// docs/planner.md): one decode step reads each device's touched weights and
// its sequences' KV from HBM, then moves its all-reduce and all-to-all bytes
// over the link; tokens/s = concurrent sequences / step time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "parallel/device_spec.h"
#include "parallel/kv_cache_size.h"
#include "parallel/mesh_shape.h"
#include "parallel/sharding_plan.h"

namespace dsv32 {

enum class WeightFormat {
  kFp8,   // the checkpoint as stored: FP8 matrices with f32 128x128 block scales
  kBf16,  // every matrix in bf16, no scales
  kInt4,  // matrices in 4 bits with one bf16 scale per 32 inputs (4.5 bits)
};
Result<WeightFormat> ParseWeightFormat(const std::string& name);
const char* WeightFormatName(WeightFormat format);

struct PlanRequest {
  ModelConfig config;
  MeshShape mesh;
  ShardingOptions sharding;
  WeightFormat weights = WeightFormat::kFp8;
  KvCacheFormat kv = KvCacheFormat::kFp8DsMla;
  int64_t context = 131072;      // tokens each sequence's KV cache holds
  int64_t concurrency = 1;       // sequences decoded together over the mesh
  int64_t prefill_chunk = 8192;  // the most tokens one forward step takes
  bool mtp = false;              // load the MTP layers (speculative decoding)
  DeviceSpec device;
  double memory_utilization = 0.9;  // fraction of memory the engine may use
};

struct DevicePlan {
  int rank = 0;
  MeshCoord coord;
  int64_t sequences = 0;  // owned by its attention replica
  int64_t weight_bytes = 0;
  int64_t routed_expert_bytes = 0;  // part of weight_bytes
  int64_t kv_bytes = 0;
  int64_t activation_bytes = 0;
  int64_t total() const { return weight_bytes + kv_bytes + activation_bytes; }
};

struct DecodeEstimate {
  int64_t sequences_per_replica = 0;
  double expert_touch_fraction = 0;  // expected share of local experts a step reads
  int64_t weight_bytes_read = 0;     // per device per step
  int64_t kv_bytes_read = 0;
  int64_t tp_allreduce_bytes = 0;  // sent per device per step
  int64_t ep_alltoall_bytes = 0;
  double hbm_seconds = 0;
  double link_seconds = 0;
  double step_seconds() const { return hbm_seconds + link_seconds; }
  double tokens_per_second = 0;  // whole mesh
  double tokens_per_second_per_sequence = 0;
};

struct Plan {
  PlanRequest request;
  int64_t checkpoint_parameters = 0;  // all tensors, MTP included, scales excluded
  int64_t checkpoint_mtp_parameters = 0;
  int64_t model_weight_bytes = 0;  // over the layers served, in the chosen format
  KvBytesPerToken kv_per_token;
  int64_t kv_layers = 0;
  int64_t kv_bytes_per_token() const { return kv_per_token.per_layer() * kv_layers; }
  std::vector<DevicePlan> devices;
  // The device with the most bytes, which decides whether the plan fits.
  const DevicePlan& busiest() const;
  int64_t usable_bytes() const;
  bool fits() const { return busiest().total() <= usable_bytes(); }
  // The most concurrent sequences at full context whose KV cache fits next
  // to the weights and activations on every device (0: not even one).
  int64_t max_sequences = 0;
  DecodeEstimate decode;
};

Result<Plan> MakePlan(const PlanRequest& request);

std::string PlanToText(const Plan& plan);
std::string PlanToJson(const Plan& plan);

}  // namespace dsv32
