// What a checkpoint holds: parameter counts and bytes per stored dtype.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/checkpoint.h"
#include "core/config.h"

namespace dsv32 {

struct CheckpointSummary {
  int64_t parameters = 0;      // weight elements, scales excluded
  int64_t mtp_parameters = 0;  // of which in the MTP layers
  int64_t scale_values = 0;    // FP8 block scales
  std::map<std::string, int64_t> bytes_by_dtype;
  int64_t total_bytes = 0;
};

CheckpointSummary SummarizeCheckpoint(const ModelConfig& config, const Checkpoint& checkpoint);

}  // namespace dsv32
