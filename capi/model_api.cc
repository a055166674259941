// Models and contexts through the C API.
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "attention/kv_file.h"
#include "attention/kv_layout.h"
#include "capi_internal.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/model_info.h"

struct dsv32_context {
  std::shared_ptr<const dsv32::Model> model;
  dsv32::KvCache cache;
  std::unique_ptr<dsv32::ThreadPool> pool;
  bool all_logits = true;
  std::vector<float> logits;
  size_t logit_rows = 0;
  std::vector<int32_t> tokens;  // the ids of the cached positions
};

using dsv32::capi::FromStatus;
using dsv32::capi::Guard;
using dsv32::capi::ReadParams;
using dsv32::capi::SetError;

extern "C" {

static dsv32_model_params ModelDefaults() {
  dsv32_model_params p{};
  p.struct_size = sizeof p;
  return p;
}

dsv32_status dsv32_model_load(const char* dir, const dsv32_model_params* params,
                              dsv32_model** out) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_model_load: out is NULL");
    *out = nullptr;
    if (!dir) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_model_load: dir is NULL");
    const dsv32_model_params p = ReadParams(params, dsv32_model_default_params());
    std::function<void(float)> progress;
    if (p.progress) progress = [&p](float f) { p.progress(f, p.progress_user_data); };
    dsv32::BindOptions options;
    switch (p.activations) {
      case DSV32_ACTIVATIONS_F32:
        options.activations = dsv32::ActivationPrecision::kF32;
        break;
      case DSV32_ACTIVATIONS_BF16:
        options.activations = dsv32::ActivationPrecision::kBf16;
        break;
      default:
        return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_model_load: params->activations " +
                                                        std::to_string(p.activations) +
                                                        " is not a dsv32_activations value");
    }
    if (p.populate != 0 && p.populate != 1) {
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_model_load: params->populate " +
                                                      std::to_string(p.populate) +
                                                      " is neither 0 nor 1");
    }
    options.populate = p.populate == 1;
    auto model = dsv32::Model::Load(dir, options, progress);
    if (!model.ok()) return FromStatus(model.status());
    auto handle = std::make_unique<dsv32_model>();
    handle->num_parameters =
        dsv32::SummarizeCheckpoint((*model)->config(), (*model)->checkpoint()).parameters;
    handle->model = std::move(model).value();
    auto defaults = dsv32::LoadGenerationDefaults(dir, dsv32::SamplingParams{});
    if (!defaults.ok()) return FromStatus(defaults.status());
    handle->sampling_defaults = defaults.value();
    *out = handle.release();
    return DSV32_OK;
  });
}

void dsv32_model_free(dsv32_model* model) { delete model; }

dsv32_status dsv32_model_get_info(const dsv32_model* model, dsv32_model_info* info) {
  return Guard([&] {
    if (!model || !info)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_model_get_info: NULL argument");
    if (info->struct_size < sizeof(size_t))
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_model_get_info: set info->struct_size to sizeof(dsv32_model_info)");
    const dsv32::ModelConfig& c = model->model->config();
    dsv32_model_info full{};
    full.struct_size = info->struct_size;
    full.model_type = c.model_type.c_str();
    full.vocab_size = c.vocab_size;
    full.hidden_size = c.hidden_size;
    full.num_hidden_layers = c.num_hidden_layers;
    full.num_attention_heads = c.num_attention_heads;
    full.kv_lora_rank = c.kv_lora_rank;
    full.qk_rope_head_dim = c.qk_rope_head_dim;
    full.max_position_embeddings = c.max_position_embeddings;
    full.n_routed_experts = c.n_routed_experts;
    full.num_experts_per_tok = c.num_experts_per_tok;
    full.has_indexer = c.has_indexer ? 1 : 0;
    full.index_topk = c.has_indexer ? c.index_topk : 0;
    full.num_parameters = model->num_parameters;
    full.kv_bytes_per_token = dsv32::KvBytesPerToken(c, dsv32::KvLayout::kF32);
    full.bos_token_id = c.bos_token_id;
    full.eos_token_id = c.eos_token_id;
    std::memcpy(info, &full, std::min(info->struct_size, sizeof full));
    return DSV32_OK;
  });
}

static dsv32_context_params ContextDefaults() {
  dsv32_context_params p{};
  p.struct_size = sizeof p;
  p.all_logits = 1;
  return p;
}

dsv32_status dsv32_context_create(dsv32_model* model, const dsv32_context_params* params,
                                  dsv32_context** out) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_create: out is NULL");
    *out = nullptr;
    if (!model) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_create: model is NULL");
    const dsv32_context_params p = ReadParams(params, dsv32_context_default_params());
    if (p.max_tokens < 0 || p.n_threads < 0)
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_context_create: max_tokens and n_threads must be >= 0");
    auto ctx = std::unique_ptr<dsv32_context>(new dsv32_context{
        model->model,
        dsv32::KvCache(model->model->config(), p.max_tokens),
        std::make_unique<dsv32::ThreadPool>(p.n_threads ? p.n_threads
                                                        : dsv32::DefaultThreadCount()),
        p.all_logits != 0,
        {},
        0,
        {}});
    *out = ctx.release();
    return DSV32_OK;
  });
}

void dsv32_context_free(dsv32_context* ctx) { delete ctx; }

dsv32_status dsv32_context_eval(dsv32_context* ctx, const int32_t* tokens, size_t n_tokens,
                                int64_t first_position) {
  return Guard([&] {
    if (!ctx || (!tokens && n_tokens))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_eval: NULL argument");
    const dsv32::ModelConfig& c = ctx->model->config();
    dsv32::ForwardOptions options;
    options.all_logits = ctx->all_logits;
    const size_t rows = ctx->all_logits ? n_tokens : 1;
    std::vector<float> logits(rows * static_cast<size_t>(c.vocab_size));
    dsv32::Status s = ctx->model->Forward(&ctx->cache, std::span(tokens, n_tokens), first_position,
                                          ctx->pool.get(), options, logits.data());
    // Forward validates everything before it touches the cache, so a
    // failure leaves the context as it was.
    if (!s.ok()) return FromStatus(s);
    ctx->logits = std::move(logits);
    ctx->logit_rows = rows;
    ctx->tokens.resize(static_cast<size_t>(first_position));
    ctx->tokens.insert(ctx->tokens.end(), tokens, tokens + n_tokens);
    return DSV32_OK;
  });
}

dsv32_status dsv32_context_logits(const dsv32_context* ctx, const float** logits, size_t* n_rows,
                                  size_t* n_vocab) {
  return Guard([&] {
    if (!ctx || !logits)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_logits: NULL argument");
    if (ctx->logit_rows == 0)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_logits: nothing evaluated yet");
    *logits = ctx->logits.data();
    if (n_rows) *n_rows = ctx->logit_rows;
    if (n_vocab) *n_vocab = static_cast<size_t>(ctx->model->config().vocab_size);
    return DSV32_OK;
  });
}

int64_t dsv32_context_length(const dsv32_context* ctx) { return ctx ? ctx->cache.length() : 0; }

dsv32_status dsv32_context_reset(dsv32_context* ctx) {
  return Guard([&] {
    if (!ctx) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_reset: ctx is NULL");
    ctx->cache.Truncate(0);
    ctx->logits.clear();
    ctx->logit_rows = 0;
    ctx->tokens.clear();
    return DSV32_OK;
  });
}

dsv32_status dsv32_context_tokens(const dsv32_context* ctx, int32_t* tokens, size_t capacity,
                                  size_t* n_tokens) {
  return Guard([&] {
    if (!ctx || !n_tokens || (!tokens && capacity))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_tokens: NULL argument");
    *n_tokens = ctx->tokens.size();
    std::copy_n(ctx->tokens.begin(), std::min(capacity, ctx->tokens.size()), tokens);
    return DSV32_OK;
  });
}

dsv32_status dsv32_context_save_cache(const dsv32_context* ctx, const char* path) {
  return Guard([&] {
    if (!ctx || !path)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_save_cache: NULL argument");
    return FromStatus(
        dsv32::SaveSequenceCache(path, ctx->model->config_hash(), ctx->cache, ctx->tokens));
  });
}

dsv32_status dsv32_context_load_cache(dsv32_context* ctx, const char* path, int64_t* n_tokens) {
  return Guard([&] {
    if (!ctx || !path)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_context_load_cache: NULL argument");
    if (ctx->cache.length() != 0)
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_context_load_cache: the context is not empty (reset it first)");
    auto tokens = dsv32::LoadSequenceCache(path, ctx->model->config_hash(), &ctx->cache);
    if (!tokens.ok()) {
      ctx->cache.Truncate(0);
      return FromStatus(tokens.status());
    }
    ctx->tokens = std::move(tokens).value();
    ctx->logits.clear();
    ctx->logit_rows = 0;
    if (n_tokens) *n_tokens = static_cast<int64_t>(ctx->tokens.size());
    return DSV32_OK;
  });
}

void dsv32_model_params_init(dsv32_model_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, ModelDefaults());
}

void dsv32_context_params_init(dsv32_context_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, ContextDefaults());
}

}  // extern "C"
