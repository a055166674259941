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

namespace {

int64_t MlpBytes(const MlpWeights& m) {
  return static_cast<int64_t>(m.gate_proj.bytes() + m.up_proj.bytes() + m.down_proj.bytes());
}

int64_t AttentionBytes(const MlaWeights& a) {
  int64_t b = static_cast<int64_t>(a.kv_a_proj_with_mqa.bytes() + a.kv_b_proj.bytes() + a.o_proj.bytes());
  b += a.q_proj ? static_cast<int64_t>(a.q_proj->bytes())
                : static_cast<int64_t>(a.q_a_proj.bytes() + a.q_b_proj.bytes());
  if (a.indexer)
    b += static_cast<int64_t>(a.indexer->wq_b.bytes() + a.indexer->wk.bytes() +
                              a.indexer->weights_proj.bytes());
  return b;
}

}  // namespace

DecodeStageBytes DecodeWeightBytesByStage(const ModelConfig& config, const ModelWeights& weights) {
  DecodeStageBytes b;
  b.lm_head = static_cast<int64_t>(weights.lm_head.bytes());
  b.embedding = static_cast<int64_t>(weights.embed_tokens.bytes()) / config.vocab_size;
  for (const LayerWeights& l : weights.layers) {
    b.attention += AttentionBytes(l.self_attn);
    if (!l.is_moe) {
      b.dense_mlp += MlpBytes(l.mlp);
      continue;
    }
    b.moe += static_cast<int64_t>(l.moe.router.gate.bytes());
    if (l.moe.shared) b.moe += MlpBytes(*l.moe.shared);
    if (!l.moe.experts.empty())
      b.moe += config.num_experts_per_tok * MlpBytes(l.moe.experts.front());
  }
  return b;
}

int64_t DecodeWeightBytesPerToken(const ModelConfig& config, const ModelWeights& weights) {
  return DecodeWeightBytesByStage(config, weights).total();
}

}  // namespace dsv32
