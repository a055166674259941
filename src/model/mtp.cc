// The multi-token-prediction layer's forward (DeepSeek-V3 report, section
// 2.2): the main model's hidden state at a position and the embedding of
// the token after it, each normed, projected together and run through one
// more decoder layer with its own head.
#include "attention/mla.h"
#include "core/ops.h"
#include "core/thread_pool.h"
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
  DSV32_RETURN_IF_ERROR(RequireMtp());
  const ModelConfig& c = config_;
  const auto T = static_cast<int64_t>(next_tokens.size());
  const int64_t H = c.hidden_size;
  DSV32_RETURN_IF_ERROR(CheckStep(*cache, next_tokens, first_position));
  if (cache->pool().num_layers() != mtp_cache_config_.num_hidden_layers)
    return InvalidArgument("the MTP layer's cache must be made from mtp_cache_config(), not a " +
                           std::to_string(cache->pool().num_layers()) + "-layer one");
  if (static_cast<int64_t>(hidden.size()) != T * H)
    return InvalidArgument("the MTP layer takes one hidden state of " + std::to_string(H) +
                           " values per token: got " + std::to_string(hidden.size()) +
                           " values for " + std::to_string(T) + " tokens");
  cache->Truncate(first_position);
  if (Status s = cache->Reserve(first_position + T, first_position); !s.ok()) {
    cache->Truncate(first_position);
    return s;
  }

  const MtpWeights& m = weights_.mtp.front();
  const AttentionContext ctx = NewContext(T, first_position, options.attention_path, pool);
  std::vector<float> embedding(static_cast<size_t>(H));
  std::vector<float> joined(static_cast<size_t>(T * 2 * H));
  for (int64_t i = 0; i < T; ++i) {
    DequantizeRow(m.embed_tokens, next_tokens[static_cast<size_t>(i)], embedding.data());
    RmsNorm(embedding.data(), m.enorm.data(), H, c.rms_norm_eps, &joined[i * 2 * H]);
    RmsNorm(&hidden[static_cast<size_t>(i * H)], m.hnorm.data(), H, c.rms_norm_eps,
            &joined[i * 2 * H + H]);
  }
  std::vector<float> h(static_cast<size_t>(T * H));
  MatMul(m.eh_proj, joined.data(), T, h.data(), pool);

  // The decoder layer, as a main one; its entries are layer 0 of `cache`.
  std::vector<float> normed(h.size()), delta(h.size());
  for (int64_t i = 0; i < T; ++i)
    RmsNorm(&h[i * H], m.layer.input_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
  MlaForward(ctx, m.layer.self_attn, 0, normed.data(), cache, delta.data(), nullptr);
  for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];
  Routing routing;
  FeedForward(m.layer, c.num_hidden_layers, T, pool, nullptr, &routing, &h, &normed, &delta);
  cache->SetLength(first_position + T);
  if (options.last_hidden) *options.last_hidden = h;

  if (!logits) return Status::Ok();
  const int64_t first_row = options.all_logits ? 0 : T - 1;
  for (int64_t i = first_row; i < T; ++i)
    RmsNorm(&h[i * H], m.shared_head_norm.data(), H, c.rms_norm_eps, &normed[i * H]);
  MatMul(m.shared_head_head, &normed[first_row * H], T - first_row, logits, pool);
  return Status::Ok();
}

}  // namespace dsv32
