// A loaded model: config, mapped checkpoint and bound weights, plus the
// forward pass over a sequence's KV cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "attention/attention_context.h"
#include "attention/kv_cache.h"
#include "attention/rope.h"
#include "core/checkpoint.h"
#include "core/config.h"
#include "model/weights.h"
#include "moe/moe.h"

namespace dsv32 {

class ThreadPool;

// Intermediate results a caller may ask a forward pass to keep, one entry
// per decoder layer (empty for layers where it does not apply).
struct ForwardTrace {
  std::vector<std::vector<float>> hidden;          // [tokens, hidden] after each layer
  std::vector<float> final_norm;                   // [tokens, hidden]
  std::vector<std::vector<int32_t>> indexer_topk;  // [tokens, index_topk], -1 padded
  std::vector<std::vector<int32_t>> expert_ids;    // [tokens, num_experts_per_tok]
  std::vector<std::vector<float>> expert_weights;  // [tokens, num_experts_per_tok]
};

// Wall time forward passes spent in each stage, added to by every pass given
// one, so a profile of many decode steps is their sum.
struct ForwardProfile {
  double embedding_s = 0.0;  // the embedding rows
  double attention_s = 0.0;  // per layer: input norm, MLA with the indexer and cache, residual
  double dense_mlp_s = 0.0;  // per dense layer: norm, MLP, residual
  double moe_s = 0.0;        // per MoE layer: norm, router, experts, residual
  double lm_head_s = 0.0;    // final norm and the lm_head matmul
  int64_t passes = 0;
};

struct ForwardOptions {
  AttentionPath attention_path = AttentionPath::kAuto;
  // Logits for every new token, or only for the last one.
  bool all_logits = true;
  ForwardTrace* trace = nullptr;
  ExpertLoad* expert_load = nullptr;
  // If set, receives [tokens, hidden]: every new token's residual stream
  // after the last decoder layer, before the final norm (what the MTP layer
  // reads). The pass copies it out only when asked.
  std::vector<float>* last_hidden = nullptr;
  // If set, each stage's wall time is added to it (a clock read per stage).
  ForwardProfile* profile = nullptr;
};

// One sequence's share of a batched forward: its new tokens at positions
// [first_position, first_position + tokens.size()) over its own cache.
struct SequenceStep {
  KvCache* cache = nullptr;
  std::span<const int32_t> tokens;
  int64_t first_position = 0;
  // [vocab] logits of the last new token, or null when the step needs none
  // (a prefill chunk that is not the prompt's last).
  float* logits = nullptr;
  // With logits: [tokens, vocab], every new token's logits (a speculative
  // verify step judges each draft by the row before it).
  bool all_logits = false;
  // If set, receives [tokens, hidden]: the residual stream after the last
  // decoder layer, as ForwardOptions::last_hidden (the MTP layer's input).
  std::vector<float>* last_hidden = nullptr;
  // A verify step of a few tokens over a long context attends best in the
  // latent space (kAbsorbed); kAuto picks by the step's length.
  AttentionPath attention_path = AttentionPath::kAuto;
};

// One sequence's share of a batched MTP-layer pass (Model::ForwardMtpBatch):
// rows as in ForwardMtp, over its own cache from mtp_cache_config().
struct MtpStep {
  KvCache* cache = nullptr;
  std::span<const int32_t> next_tokens;
  std::span<const float> hidden;  // [next_tokens.size(), hidden]
  int64_t first_position = 0;
  // [vocab] logits of the last row ([rows, vocab] with all_logits), or null.
  float* logits = nullptr;
  bool all_logits = false;
  std::vector<float>* last_hidden = nullptr;  // if set, receives g: [rows, hidden]
};

class Model {
 public:
  // Reads config.json and binds the checkpoint in `dir`.
  // `progress`, if given, is called with the fraction done in [0, 1]: the
  // files are mapped and bound first, then each layer's absorbed attention
  // weights are prepared (the part of loading that takes time).
  static Result<std::unique_ptr<Model>> Load(const std::string& dir,
                                             const std::function<void(float)>& progress = {});
  // The same with the weights bound as `options` says (the activation
  // precision of the matmuls).
  static Result<std::unique_ptr<Model>> Load(const std::string& dir, const BindOptions& options,
                                             const std::function<void(float)>& progress = {});

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  ActivationPrecision activations() const { return activations_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  // Names the model in saved KV caches: a hash of config.json's canonical
  // JSON (attention/kv_file.h).
  uint64_t config_hash() const { return config_hash_; }

  // Runs `tokens` at positions [first_position, first_position + n) of the
  // sequence whose cache is `cache`: entries from first_position on are
  // replaced, earlier ones must already be there. Writes logits
  // ([n, vocab], or [1, vocab] without all_logits) to `logits`.
  Status Forward(KvCache* cache, std::span<const int32_t> tokens, int64_t first_position,
                 ThreadPool* pool, const ForwardOptions& options, float* logits) const;

  // Several sequences in one pass (continuous batching): every matmul takes
  // all the steps' tokens together, attention runs per sequence over its own
  // cache. Each step's logits equal what Forward gives for it alone. Checks
  // every step before touching any cache.
  Status ForwardBatch(std::span<const SequenceStep> steps, ThreadPool* pool,
                      ExpertLoad* expert_load) const;

  // Whether the checkpoint has the multi-token-prediction layer
  // (num_nextn_predict_layers > 0 and its tensors present).
  bool has_mtp() const { return !weights_.mtp.empty(); }
  // Ok with the MTP layer, else Unsupported saying what is missing.
  Status RequireMtp() const;
  // What a cache for the MTP layer is made from (KvCache, KvPagePool): this
  // model's config with one layer, the MTP layer's own attention entries.
  const ModelConfig& mtp_cache_config() const { return mtp_cache_config_; }

  // The MTP layer (the checkpoint's first; V3 and V3.2 have one) over n
  // positions [first_position, first_position + n) of a sequence. Row i
  // reads hidden[i], the main model's last hidden state at position
  // first_position + i (ForwardOptions::last_hidden; when chaining drafts,
  // the MTP layer's own output instead), and next_tokens[i], the token at the
  // position after it, and predicts the token after that:
  //   x      = eh_proj([enorm(embed(next_tokens[i])); hnorm(hidden[i])])
  //   g      = the MTP decoder layer over x (MLA, indexer, MoE), its entries
  //            in `cache`, which is made from mtp_cache_config()
  //   logits = shared_head.head(shared_head.norm(g))
  // Cache entries from first_position on are replaced, as in Forward.
  // Writes logits ([n, vocab], or [1, vocab] without all_logits; none when
  // `logits` is null) and g to options.last_hidden if set; options.trace and
  // options.expert_load are for the main layers and stay untouched.
  // Unsupported when the model has no MTP layer.
  Status ForwardMtp(KvCache* cache, std::span<const int32_t> next_tokens,
                    std::span<const float> hidden, int64_t first_position, ThreadPool* pool,
                    const ForwardOptions& options, float* logits) const;
  // Several sequences' MTP rows in one pass, as ForwardBatch does for the
  // main layers (drafting for every speculating sequence of an engine step
  // reads the layer's weights and head once). Each step's results equal
  // ForwardMtp's for it alone, to the rounding of a matmul over more rows.
  // Checks every step before touching any cache.
  Status ForwardMtpBatch(std::span<const MtpStep> steps, AttentionPath path,
                         ThreadPool* pool) const;

 private:
  Model() = default;
  Status CheckStep(const KvCache& cache, std::span<const int32_t> tokens,
                   int64_t first_position) const;
  // Attention's view of `tokens` new tokens from first_position on, with
  // their RoPE angles.
  AttentionContext NewContext(int64_t tokens, int64_t first_position, AttentionPath path,
                              ThreadPool* pool) const;
  // The second half of decoder layer `layer` (weights `lw`) over `tokens`
  // rows of h (in place): post-attention norm, MoE or dense MLP, residual.
  // `routing` receives the router's choice on MoE layers; expert_load, if
  // given, counts it under `layer`.
  void FeedForward(const LayerWeights& lw, int64_t layer, int64_t tokens, ThreadPool* pool,
                   ExpertLoad* expert_load, Routing* routing, std::vector<float>* h,
                   std::vector<float>* normed, std::vector<float>* delta) const;
  ModelConfig config_;
  ModelConfig mtp_cache_config_;
  uint64_t config_hash_ = 0;
  std::unique_ptr<Checkpoint> checkpoint_;
  ModelWeights weights_;
  ActivationPrecision activations_ = ActivationPrecision::kF32;
  std::unique_ptr<Rope> rope_;
};

}  // namespace dsv32
