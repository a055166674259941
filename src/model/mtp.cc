// The multi-token-prediction layer's forward (DeepSeek-V3 report, section
// 2.2): the main model's hidden state at a position and the embedding of
// the token after it, each normed, projected together and run through one
// more decoder layer with its own head.
#include <set>

#include "attention/mla.h"
#include "core/ops.h"
#include "core/thread_pool.h"
#include "model/batched_head.h"
#include "model/model.h"

namespace dsv32 {

Status Model::RequireMtp() const {
  if (has_mtp()) return Status::Ok();
  const ModelConfig& c = config_;
  return Unsupported("the model has no MTP layer: config.json's num_nextn_predict_layers is " +
                     std::to_string(c.num_nextn_predict_layers) +
                     (c.num_nextn_predict_layers > 0
                          ? " but the checkpoint has no model.layers." +
                                std::to_string(c.num_hidden_layers) + ".eh_proj.weight"
                          : ""));
}

Status Model::ForwardMtp(KvCache* cache, std::span<const int32_t> next_tokens,
                         std::span<const float> hidden, int64_t first_position, ThreadPool* pool,
                         const ForwardOptions& options, float* logits) const {
  MtpStep step;
  step.cache = cache;
  step.next_tokens = next_tokens;
  step.hidden = hidden;
  step.first_position = first_position;
  step.logits = logits;
  step.all_logits = options.all_logits;
  step.last_hidden = options.last_hidden;
  return ForwardMtpBatch(std::span(&step, 1), options.attention_path, pool);
}

Status Model::ForwardMtpBatch(std::span<const MtpStep> steps, AttentionPath path,
                              ThreadPool* pool) const {
  DSV32_RETURN_IF_ERROR(RequireMtp());
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size;
  if (steps.empty()) return InvalidArgument("no sequences for the MTP layer");
  std::set<const KvCache*> caches;
  int64_t T = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const MtpStep& step = steps[s];
    const std::string which = "MTP sequence " + std::to_string(s);
    if (!step.cache) return InvalidArgument(which + " has no cache");
    if (!caches.insert(step.cache).second)
      return InvalidArgument(which + " shares its cache with another");
    const auto n = static_cast<int64_t>(step.next_tokens.size());
    DSV32_RETURN_IF_ERROR(
        CheckStep(*step.cache, step.next_tokens, step.first_position).WithContext(which));
    if (step.cache->pool().num_layers() != mtp_cache_config_.num_hidden_layers)
      return InvalidArgument("the MTP layer's cache must be made from mtp_cache_config(), not a " +
                             std::to_string(step.cache->pool().num_layers()) + "-layer one");
    if (static_cast<int64_t>(step.hidden.size()) != n * H)
      return InvalidArgument("the MTP layer takes one hidden state of " + std::to_string(H) +
                             " values per token: got " + std::to_string(step.hidden.size()) +
                             " values for " + std::to_string(n) + " tokens");
    T += n;
  }
  for (const MtpStep& step : steps) {
    step.cache->Truncate(step.first_position);
    Status st = step.cache->Reserve(
        step.first_position + static_cast<int64_t>(step.next_tokens.size()), step.first_position);
    if (!st.ok()) {
      for (const MtpStep& taken : steps) taken.cache->Truncate(taken.first_position);
      return st;
    }
  }

  const MtpWeights& m = weights_.mtp.front();
  std::vector<AttentionContext> contexts(steps.size());
  std::vector<MlaSequence> seqs(steps.size());
  std::vector<float> embedding(static_cast<size_t>(H));
  std::vector<float> joined(static_cast<size_t>(T * 2 * H));
  int64_t row = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const MtpStep& step = steps[s];
    const auto n = static_cast<int64_t>(step.next_tokens.size());
    contexts[s] = NewContext(n, step.first_position, path, pool);
    seqs[s] = {&contexts[s], step.cache, nullptr};
    for (int64_t i = 0; i < n; ++i, ++row) {
      DequantizeRow(m.embed_tokens, step.next_tokens[static_cast<size_t>(i)], embedding.data());
      RmsNorm(embedding.data(), m.enorm.data(), H, c.rms_norm_eps, &joined[row * 2 * H]);
      RmsNorm(&step.hidden[static_cast<size_t>(i * H)], m.hnorm.data(), H, c.rms_norm_eps,
              &joined[row * 2 * H + H]);
    }
  }
  std::vector<float> h(static_cast<size_t>(T * H));
  MatMul(m.eh_proj, joined.data(), T, h.data(), pool);

  // The decoder layer, as a main one; its entries are layer 0 of each cache.
  std::vector<float> normed(h.size()), delta(h.size());
  for (int64_t i = 0; i < T; ++i)
    RmsNorm(&h[i * H], m.layer.input_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
  DSV32_RETURN_IF_ERROR(MlaForwardBatch(seqs, m.layer.self_attn, 0, normed.data(), delta.data()));
  for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];
  Routing routing;
  FeedForward(m.layer, c.num_hidden_layers, T, pool, nullptr, &routing, &h, &normed, &delta);

  std::vector<HeadRows> heads;
  row = 0;
  for (const MtpStep& step : steps) {
    const auto n = static_cast<int64_t>(step.next_tokens.size());
    step.cache->SetLength(step.first_position + n);
    if (step.last_hidden) step.last_hidden->assign(h.begin() + row * H, h.begin() + (row + n) * H);
    row += n;
    heads.push_back({n, step.logits, step.all_logits});
  }
  BatchedHeadLogits(heads, h.data(), H, m.shared_head_norm, c.rms_norm_eps, m.shared_head_head,
                    pool);
  return Status::Ok();
}

}  // namespace dsv32
