#include "model/model.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "attention/kv_file.h"
#include "attention/mla.h"
#include "core/ops.h"
#include "core/thread_pool.h"

namespace dsv32 {

Result<std::unique_ptr<Model>> Model::Load(const std::string& dir,
                                           const std::function<void(float)>& progress) {
  return Load(dir, BindOptions{}, progress);
}

Result<std::unique_ptr<Model>> Model::Load(const std::string& dir, const BindOptions& options,
                                           const std::function<void(float)>& progress) {
  auto report = [&](float fraction) {
    if (progress) progress(fraction);
  };
  report(0.0f);
  std::unique_ptr<Model> model(new Model());
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  DSV32_ASSIGN_OR_RETURN(model->config_, LoadModelConfig(config_path));
  {
    std::ifstream in(config_path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto hash = ConfigHash(text);
    if (!hash.ok()) return hash.status().WithContext(config_path);
    model->config_hash_ = *hash;
  }
  DSV32_ASSIGN_OR_RETURN(model->checkpoint_, Checkpoint::Open(dir));
  auto weights = BindWeights(model->config_, *model->checkpoint_, options);
  if (!weights.ok()) return weights.status().WithContext(dir);
  model->weights_ = std::move(weights).value();
  if (options.populate) model->checkpoint_->Populate();
  model->activations_ = options.activations;
  model->mtp_cache_config_ = model->config_;
  model->mtp_cache_config_.num_hidden_layers = 1;
  model->rope_ = std::make_unique<Rope>(model->config_);
  report(1.0f);
  return model;
}

Status Model::CheckStep(const KvCache& cache, std::span<const int32_t> tokens,
                       int64_t first_position) const {
  const auto T = static_cast<int64_t>(tokens.size());
  if (T == 0) return InvalidArgument("no tokens to evaluate");
  if (first_position < 0 || first_position > cache.length())
    return OutOfRange("position " + std::to_string(first_position) +
                      " is not within the sequence's " + std::to_string(cache.length()) +
                      " cached tokens");
  for (int64_t i = 0; i < T; ++i)
    if (tokens[static_cast<size_t>(i)] < 0 || tokens[static_cast<size_t>(i)] >= config_.vocab_size)
      return OutOfRange("token id " + std::to_string(tokens[static_cast<size_t>(i)]) + " at index " +
                        std::to_string(i) + " is outside the vocabulary [0, " +
                        std::to_string(config_.vocab_size) + ")");
  return Status::Ok();
}

AttentionContext Model::NewContext(int64_t tokens, int64_t first_position, AttentionPath path,
                                   ThreadPool* pool) const {
  AttentionContext ctx;
  ctx.config = &config_;
  ctx.rope = rope_.get();
  ctx.pool = pool;
  ctx.path = path;
  ctx.tokens = tokens;
  ctx.first_position = first_position;
  const int64_t half_rope = config_.qk_rope_head_dim / 2;
  ctx.cos.resize(static_cast<size_t>(tokens * half_rope));
  ctx.sin.resize(static_cast<size_t>(tokens * half_rope));
  for (int64_t i = 0; i < tokens; ++i)
    rope_->Angles(first_position + i, &ctx.cos[i * half_rope], &ctx.sin[i * half_rope]);
  return ctx;
}

void Model::FeedForward(const LayerWeights& lw, int64_t layer, int64_t tokens, ThreadPool* pool,
                        ExpertLoad* expert_load, Routing* routing, std::vector<float>* h,
                        std::vector<float>* normed, std::vector<float>* delta) const {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size;
  for (int64_t i = 0; i < tokens; ++i)
    RmsNorm(&(*h)[i * H], lw.post_attention_layernorm.data(), H, c.rms_norm_eps,
            &(*normed)[i * H]);
  if (lw.is_moe) {
    MoeForward(c, lw.moe, normed->data(), tokens, delta->data(), pool, routing);
    if (expert_load) expert_load->Add(layer, *routing);
  } else {
    MlpForward(lw.mlp, normed->data(), tokens, delta->data(), pool);
  }
  for (size_t j = 0; j < h->size(); ++j) (*h)[j] += (*delta)[j];
}

Status Model::Forward(KvCache* cache, std::span<const int32_t> tokens, int64_t first_position,
                      ThreadPool* pool, const ForwardOptions& options, float* logits) const {
  const ModelConfig& c = config_;
  const auto T = static_cast<int64_t>(tokens.size());
  DSV32_RETURN_IF_ERROR(CheckStep(*cache, tokens, first_position));
  cache->Truncate(first_position);
  if (Status s = cache->Reserve(first_position + T, first_position); !s.ok()) {
    cache->Truncate(first_position);  // give back what this call took
    return s;
  }

  const int64_t H = c.hidden_size;
  const AttentionContext ctx = NewContext(T, first_position, options.attention_path, pool);

  // Charges the time since the last charge to one stage of the profile.
  ForwardProfile* const profile = options.profile;
  auto mark = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  auto charge = [&](double ForwardProfile::*stage) {
    if (!profile) return;
    const auto now = std::chrono::steady_clock::now();
    profile->*stage += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };

  std::vector<float> h(static_cast<size_t>(T * H));
  for (int64_t i = 0; i < T; ++i)
    DequantizeRow(weights_.embed_tokens, tokens[static_cast<size_t>(i)], &h[i * H]);
  charge(&ForwardProfile::embedding_s);

  ForwardTrace* trace = options.trace;
  if (trace) {
    const auto L = static_cast<size_t>(c.num_hidden_layers);
    trace->hidden.assign(L, {});
    trace->indexer_topk.assign(L, {});
    trace->expert_ids.assign(L, {});
    trace->expert_weights.assign(L, {});
  }

  std::vector<float> normed(h.size()), delta(h.size());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = weights_.layers[static_cast<size_t>(l)];
    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&h[i * H], lw.input_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
    DSV32_RETURN_IF_ERROR(
        MlaForward(ctx, lw.self_attn, l, normed.data(), cache, delta.data(),
                   trace ? &trace->indexer_topk[static_cast<size_t>(l)] : nullptr));
    for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];
    charge(&ForwardProfile::attention_s);

    Routing routing;
    FeedForward(lw, l, T, pool, options.expert_load, &routing, &h, &normed, &delta);
    charge(lw.is_moe ? &ForwardProfile::moe_s : &ForwardProfile::dense_mlp_s);
    if (trace && lw.is_moe) {
      trace->expert_ids[static_cast<size_t>(l)] = routing.expert_ids;
      trace->expert_weights[static_cast<size_t>(l)] = routing.weights;
    }
    if (trace) trace->hidden[static_cast<size_t>(l)] = h;
  }
  cache->SetLength(first_position + T);
  if (options.last_hidden) *options.last_hidden = h;

  const int64_t first_row = options.all_logits ? 0 : T - 1;
  const int64_t rows = T - first_row;
  for (int64_t i = 0; i < T; ++i)
    RmsNorm(&h[i * H], weights_.norm.data(), H, c.rms_norm_eps, &normed[i * H]);
  if (trace) trace->final_norm = normed;
  MatMul(weights_.lm_head, &normed[first_row * H], rows, logits, pool);
  charge(&ForwardProfile::lm_head_s);
  if (profile) ++profile->passes;
  return Status::Ok();
}

}  // namespace dsv32
