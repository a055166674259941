// What a checkpoint holds: parameter counts and bytes per stored dtype.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/checkpoint.h"
#include "core/config.h"
#include "model/weights.h"

namespace dsv32 {

struct CheckpointSummary {
  int64_t parameters = 0;      // weight elements, scales excluded
  int64_t mtp_parameters = 0;  // of which in the MTP layers
  int64_t scale_values = 0;    // FP8 block scales
  std::map<std::string, int64_t> bytes_by_dtype;
  int64_t total_bytes = 0;
};

CheckpointSummary SummarizeCheckpoint(const ModelConfig& config, const Checkpoint& checkpoint);

// Weight bytes one decoded token streams through the cores: every attention,
// dense, shared-expert and router matrix of every layer, num_experts_per_tok
// routed experts per MoE layer, the lm_head, and one embedding row. This is
// what bounds decode speed on a CPU.
int64_t DecodeWeightBytesPerToken(const ModelConfig& config, const ModelWeights& weights);

// The same bytes by the stage of the forward pass that reads them (the
// stages of ForwardProfile).
struct DecodeStageBytes {
  int64_t embedding = 0;  // one row
  int64_t attention = 0;  // MLA and indexer projections of every layer
  int64_t dense_mlp = 0;  // the dense layers' MLPs
  int64_t moe = 0;        // routers, shared experts, num_experts_per_tok routed experts
  int64_t lm_head = 0;
  int64_t total() const { return embedding + attention + dense_mlp + moe + lm_head; }
};

DecodeStageBytes DecodeWeightBytesByStage(const ModelConfig& config, const ModelWeights& weights);

}  // namespace dsv32
