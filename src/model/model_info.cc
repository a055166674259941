#include "model/model_info.h"

namespace dsv32 {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CheckpointSummary SummarizeCheckpoint(const ModelConfig& config, const Checkpoint& checkpoint) {
  CheckpointSummary s;
  const std::string mtp_prefix = "model.layers." + std::to_string(config.num_hidden_layers) + ".";
  for (const auto& [name, view] : checkpoint.tensors()) {
    s.bytes_by_dtype[std::string(DTypeName(view->dtype))] += static_cast<int64_t>(view->nbytes);
    s.total_bytes += static_cast<int64_t>(view->nbytes);
    if (EndsWith(name, "_scale_inv") || EndsWith(name, "weight_scale")) {
      s.scale_values += view->numel();
      continue;
    }
    s.parameters += view->numel();
    if (config.num_nextn_predict_layers > 0 && name.rfind(mtp_prefix, 0) == 0)
      s.mtp_parameters += view->numel();
  }
  return s;
}

}  // namespace dsv32
