// The serving engine, sampling parameters and metrics through the C API.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "capi_internal.h"
#include "chat/tool_call_grammar.h"
#include "engine/engine.h"
#include "tool_reply.h"

struct dsv32_engine {
  std::unique_ptr<dsv32::Engine> engine;
  dsv32::SamplingParams sampling_defaults;
  int64_t eos_token_id = -1;
  bool background = false;
  // The engine's own tokenizer (engine params), which constrained requests
  // use when they name none.
  std::unique_ptr<dsv32_tokenizer> tokenizer;
  // Compiled constraints by vocabulary, kind and text, so that requests with
  // the same schema share one grammar and its cached masks.
  std::mutex grammars_mu;
  std::map<std::tuple<const void*, std::string, std::string>,
           std::shared_ptr<const dsv32::structured::TokenGrammar>>
      grammars;
};

using dsv32::capi::FromStatus;
using dsv32::capi::Guard;
using dsv32::capi::ReadParams;
using dsv32::capi::SetError;

namespace {

dsv32_sampling_params ToC(const dsv32::SamplingParams& s) {
  dsv32_sampling_params p{};
  p.struct_size = sizeof p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repetition_penalty = s.repetition_penalty;
  p.presence_penalty = s.presence_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.seed = s.seed;
  p.top_logprobs = s.top_logprobs;
  return p;
}

dsv32::SamplingParams FromC(const dsv32_sampling_params& p) {
  dsv32::SamplingParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repetition_penalty = p.repetition_penalty;
  s.presence_penalty = p.presence_penalty;
  s.frequency_penalty = p.frequency_penalty;
  s.seed = p.seed;
  s.top_logprobs = p.top_logprobs;
  return s;
}

// Copies `full` over the caller's struct, no further than the caller's size.
template <typename T>
dsv32_status CopyOut(T full, T* out, const char* what) {
  if (out->struct_size < sizeof(size_t))
    return SetError(DSV32_ERR_INVALID_ARGUMENT,
                    std::string(what) + ": set struct_size to the struct's sizeof");
  full.struct_size = out->struct_size;
  std::memcpy(out, &full, std::min(out->struct_size, sizeof full));
  return DSV32_OK;
}

dsv32_status NullEngine(const char* fn) {
  return SetError(DSV32_ERR_INVALID_ARGUMENT, std::string(fn) + ": engine is NULL");
}

// The grammar of a request's tool-call reply, json_schema or regex,
// compiled once per engine.
dsv32::Result<std::shared_ptr<const dsv32::structured::TokenGrammar>> Grammar(
    dsv32_engine* engine, const dsv32_request_params& p,
    const std::optional<dsv32::capi::ToolReply>& tools) {
  using dsv32::structured::TokenGrammar;
  const bool schema = p.json_schema != nullptr;
  const std::string what = tools ? "tools" : schema ? "json_schema" : "regex";
  if (schema && p.regex) return dsv32::InvalidArgument("give json_schema or regex, not both");
  const dsv32_tokenizer* tokenizer = p.tokenizer ? p.tokenizer : engine->tokenizer.get();
  if (!tokenizer) return dsv32::InvalidArgument(what + " needs the tokenizer");
  // A schema without tools holds the content; a reply that opens with
  // reasoning reasons freely first.
  bool reasoning_first = false;
  if (schema && !tools) {
    DSV32_ASSIGN_OR_RETURN(reasoning_first,
                           dsv32::capi::OpensWithReasoning(p, *tokenizer->tokenizer));
  }
  const auto vocab_size = static_cast<int32_t>(engine->engine->model().config().vocab_size);
  DSV32_ASSIGN_OR_RETURN(auto vocab, dsv32::capi::Vocabulary(*tokenizer, vocab_size,
                                                             tools.has_value() || reasoning_first));
  std::string text = schema ? p.json_schema : p.regex ? p.regex : "";
  if (reasoning_first) text.insert(0, std::string("reasoning") + '\0');
  if (tools) {
    // NUL cannot occur in JSON text, so the parts cannot run together.
    text = tools->tools + '\0' + tools->tool_choice + '\0' + (tools->thinking ? "1" : "0") + '\0' +
           text;
  }
  const auto key = std::make_tuple(static_cast<const void*>(vocab.get()), what, text);
  std::lock_guard lock(engine->grammars_mu);
  if (auto it = engine->grammars.find(key); it != engine->grammars.end()) return it->second;
  auto from_regex = [&](const dsv32::structured::Regex& regex)
      -> dsv32::Result<std::shared_ptr<const TokenGrammar>> {
    DSV32_ASSIGN_OR_RETURN(auto dfa, dsv32::structured::Dfa::Compile(regex));
    return TokenGrammar::Create(std::move(dfa), vocab);
  };
  auto grammar = [&]() -> dsv32::Result<std::shared_ptr<const TokenGrammar>> {
    dsv32::chat::ToolCallGrammarOptions options;
    if (schema) options.content_schema = p.json_schema;
    if (reasoning_first) {
      options.thinking = true;
      DSV32_ASSIGN_OR_RETURN(auto regex, dsv32::chat::ContentReplyRegex(options));
      return from_regex(regex);
    }
    if (!tools)
      return schema ? TokenGrammar::FromJsonSchema(text, vocab)
                    : TokenGrammar::FromRegex(text, vocab);
    options.thinking = tools->thinking;
    DSV32_ASSIGN_OR_RETURN(auto choice, dsv32::chat::ParseToolChoice(tools->tool_choice));
    DSV32_ASSIGN_OR_RETURN(auto regex,
                           dsv32::chat::ToolCallReplyRegex(tools->tools, choice, options));
    return from_regex(regex);
  }();
  if (!grammar.ok()) return grammar.status().WithContext(what);
  // A bound on what an engine keeps: past it, start over.
  if (engine->grammars.size() >= 64) engine->grammars.clear();
  engine->grammars.emplace(key, grammar.value());
  return grammar;
}

}  // namespace

extern "C" {

static dsv32_sampling_params SamplingDefaults() { return ToC(dsv32::SamplingParams{}); }

static dsv32_engine_params EngineDefaults() {
  const dsv32::EngineOptions o;
  dsv32_engine_params p{};
  p.struct_size = sizeof p;
  p.n_threads = o.threads;
  p.background = 1;
  p.kv_budget_bytes = o.kv_budget_bytes;
  p.max_context = o.max_context;
  p.max_batch_tokens = o.max_batch_tokens;
  p.max_running = o.max_running;
  p.interactive_chunk = o.interactive_chunk;
  p.compute_chunk = o.compute_chunk;
  p.kv_dtype = DSV32_KV_F32;
  p.page_tokens = static_cast<int32_t>(o.page_tokens);
  p.prefix_cache = o.prefix_cache ? 1 : 0;
  p.speculative_tokens = o.speculative_tokens;
  return p;
}

dsv32_status dsv32_engine_create(dsv32_model* model, const dsv32_engine_params* params,
                                 dsv32_engine** out) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_create: out is NULL");
    *out = nullptr;
    if (!model) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_create: model is NULL");
    const dsv32_engine_params p = ReadParams(params, dsv32_engine_default_params());
    dsv32::EngineOptions o;
    o.threads = p.n_threads;
    o.kv_budget_bytes = p.kv_budget_bytes;
    o.max_context = p.max_context;
    o.max_batch_tokens = p.max_batch_tokens;
    o.max_running = p.max_running;
    o.interactive_chunk = p.interactive_chunk;
    o.compute_chunk = p.compute_chunk;
    switch (p.kv_dtype) {
      case DSV32_KV_F32:
        o.kv_layout = dsv32::KvLayout::kF32;
        break;
      case DSV32_KV_BF16:
        o.kv_layout = dsv32::KvLayout::kBf16;
        break;
      case DSV32_KV_FP8:
        o.kv_layout = dsv32::KvLayout::kFp8;
        break;
      default:
        return SetError(DSV32_ERR_INVALID_ARGUMENT,
                        "dsv32_engine_create: unknown kv_dtype " + std::to_string(p.kv_dtype));
    }
    o.page_tokens = p.page_tokens;
    o.prefix_cache = p.prefix_cache != 0;
    if (p.tokenizer) o.tokenizer = p.tokenizer->tokenizer;
    o.speculative_tokens = p.speculative_tokens;
    auto engine = dsv32::Engine::Create(model->model, o);
    if (!engine.ok()) return FromStatus(engine.status());
    auto handle = std::make_unique<dsv32_engine>();
    handle->engine = std::move(engine).value();
    handle->sampling_defaults = model->sampling_defaults;
    handle->eos_token_id = model->model->config().eos_token_id;
    handle->background = p.background != 0;
    if (p.tokenizer) {
      handle->tokenizer = std::make_unique<dsv32_tokenizer>();
      handle->tokenizer->tokenizer = p.tokenizer->tokenizer;
    }
    if (handle->background) handle->engine->Start();
    *out = handle.release();
    return DSV32_OK;
  });
}

void dsv32_engine_free(dsv32_engine* engine) { delete engine; }

dsv32_status dsv32_engine_sampling_defaults(const dsv32_engine* engine,
                                            dsv32_sampling_params* out) {
  return Guard([&] {
    if (!engine || !out)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_sampling_defaults: NULL argument");
    return CopyOut(ToC(engine->sampling_defaults), out, "dsv32_engine_sampling_defaults");
  });
}

static dsv32_request_params RequestDefaults() {
  dsv32_request_params p{};
  p.struct_size = sizeof p;
  p.max_tokens = 256;
  p.stop_at_eos = 1;
  p.lane = DSV32_LANE_INTERACTIVE;
  return p;
}

dsv32_status dsv32_engine_submit(dsv32_engine* engine, const dsv32_request_params* params,
                                 dsv32_request_id* out) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_submit");
    if (!params || !out)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_submit: NULL argument");
    const dsv32_request_params p = ReadParams(params, dsv32_request_default_params());
    if ((!p.prompt && p.n_prompt) || (!p.stop_tokens && p.n_stop_tokens) ||
        (!p.stop_strings && p.n_stop_strings))
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_engine_submit: a NULL array with a non-zero length");
    dsv32::RequestSpec spec;
    if (p.prompt) spec.prompt.assign(p.prompt, p.prompt + p.n_prompt);
    if (p.chat_request) {
      if (p.prompt)
        return SetError(DSV32_ERR_INVALID_ARGUMENT,
                        "dsv32_engine_submit: give prompt or chat_request, not both");
      spec.chat_request = p.chat_request;
    }
    spec.skip_special_tokens = p.skip_special_tokens != 0;
    if (p.kv_export_path) spec.kv_export_path = p.kv_export_path;
    if (p.kv_import_path) spec.kv_import_path = p.kv_import_path;
    for (size_t i = 0; i < p.n_stop_strings; ++i) {
      if (!p.stop_strings[i])
        return SetError(DSV32_ERR_INVALID_ARGUMENT,
                        "dsv32_engine_submit: stop_strings[" + std::to_string(i) + "] is NULL");
      spec.stop_strings.emplace_back(p.stop_strings[i]);
    }
    spec.sampling = engine->sampling_defaults;
    if (p.sampling) spec.sampling = FromC(ReadParams(p.sampling, ToC(engine->sampling_defaults)));
    spec.max_tokens = p.max_tokens;
    if (p.stop_tokens) spec.stop_tokens.assign(p.stop_tokens, p.stop_tokens + p.n_stop_tokens);
    if (p.stop_at_eos && engine->eos_token_id >= 0)
      spec.stop_tokens.push_back(static_cast<int32_t>(engine->eos_token_id));
    if (p.lane != DSV32_LANE_INTERACTIVE && p.lane != DSV32_LANE_COMPUTE)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_submit: unknown lane");
    spec.lane = static_cast<dsv32::Lane>(p.lane);
    const dsv32_tokenizer* tokenizer = p.tokenizer ? p.tokenizer : engine->tokenizer.get();
    auto tools = dsv32::capi::ReadToolReply(p, tokenizer ? tokenizer->tokenizer.get() : nullptr);
    if (!tools.ok()) return FromStatus(tools.status().WithContext("dsv32_engine_submit"));
    if (p.json_schema || p.regex || tools->has_value()) {
      auto grammar = Grammar(engine, p, tools.value());
      if (!grammar.ok()) return FromStatus(grammar.status().WithContext("dsv32_engine_submit"));
      auto constraint =
          dsv32::structured::TokenConstraint::Create(std::move(grammar).value(), spec.stop_tokens);
      if (!constraint.ok())
        return FromStatus(constraint.status().WithContext("dsv32_engine_submit"));
      spec.sampling.constraint = std::move(constraint).value();
    }
    if (p.on_token) {
      const dsv32_stream_fn fn = p.on_token;
      void* user_data = p.user_data;
      spec.on_token = [fn, user_data](const dsv32::TokenEvent& e) {
        dsv32_token_event c{};
        c.struct_size = sizeof c;
        c.request = e.request;
        c.token = e.token;
        c.logprob = e.logprob;
        static_assert(sizeof(dsv32_token_logprob) == sizeof(dsv32::TokenLogprob));
        c.top = reinterpret_cast<const dsv32_token_logprob*>(e.top.data());
        c.n_top = e.top.size();
        c.finished = e.finished ? 1 : 0;
        c.reason = static_cast<dsv32_finish_reason>(e.reason);
        c.text = e.text.c_str();
        c.text_length = e.text.size();
        fn(&c, user_data);
      };
    }
    auto id = engine->engine->Submit(std::move(spec));
    if (!id.ok()) return FromStatus(id.status());
    *out = id.value();
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_cancel(dsv32_engine* engine, dsv32_request_id id) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_cancel");
    return FromStatus(engine->engine->Cancel(id));
  });
}

dsv32_status dsv32_engine_poll(const dsv32_engine* engine, dsv32_request_id id,
                               dsv32_request_status* status) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_poll");
    if (!status) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_poll: status is NULL");
    auto s = engine->engine->Poll(id);
    if (!s.ok()) return FromStatus(s.status());
    dsv32_request_status full{};
    full.state = static_cast<dsv32_request_state>(s->state);
    full.reason = static_cast<dsv32_finish_reason>(s->reason);
    full.n_prompt = s->prompt_tokens;
    full.n_generated = static_cast<int64_t>(s->generated.size());
    full.queue_seconds = s->queue_seconds;
    full.ttft_seconds = s->ttft_seconds;
    if (s->reason == dsv32::FinishReason::kError) SetError(DSV32_OK, s->error);
    return CopyOut(full, status, "dsv32_engine_poll");
  });
}

dsv32_status dsv32_engine_tokens(const dsv32_engine* engine, dsv32_request_id id, int32_t* tokens,
                                 float* logprobs, size_t capacity, size_t* n_generated) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_tokens");
    if (!tokens && capacity)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_tokens: tokens is NULL");
    auto s = engine->engine->Poll(id);
    if (!s.ok()) return FromStatus(s.status());
    const size_t n = std::min(capacity, s->generated.size());
    std::copy_n(s->generated.begin(), n, tokens);
    if (logprobs) std::copy_n(s->logprobs.begin(), n, logprobs);
    if (n_generated) *n_generated = s->generated.size();
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_text(const dsv32_engine* engine, dsv32_request_id id, char* text,
                               size_t capacity, size_t* length) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_text");
    if (!text && capacity)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_text: text is NULL");
    auto s = engine->engine->Poll(id);
    if (!s.ok()) return FromStatus(s.status());
    if (capacity) {
      const size_t n = std::min(capacity - 1, s->text.size());
      std::memcpy(text, s->text.data(), n);
      text[n] = '\0';
    }
    if (length) *length = s->text.size();
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_wait(const dsv32_engine* engine, dsv32_request_id id, int64_t timeout_ms,
                               int32_t* finished) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_wait");
    // About 30 years stands in for "no limit" without overflowing the clock.
    const std::chrono::milliseconds limit(timeout_ms < 0 ? int64_t{1} << 40 : timeout_ms);
    auto done = engine->engine->Wait(id, limit);
    if (!done.ok()) return FromStatus(done.status());
    if (finished) *finished = done.value() ? 1 : 0;
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_release(dsv32_engine* engine, dsv32_request_id id) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_release");
    return FromStatus(engine->engine->Release(id));
  });
}

dsv32_status dsv32_engine_step(dsv32_engine* engine, int64_t* n_tokens) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_step");
    if (engine->background)
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_engine_step: this engine steps on its own thread (background = 1)");
    auto n = engine->engine->Step();
    if (!n.ok()) return FromStatus(n.status());
    if (n_tokens) *n_tokens = n.value();
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_get_metrics(const dsv32_engine* engine, dsv32_engine_metrics* metrics) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_get_metrics");
    if (!metrics)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_get_metrics: metrics is NULL");
    const dsv32::EngineMetrics m = engine->engine->Metrics();
    dsv32_engine_metrics c{};
    c.requests_submitted = m.requests_submitted;
    c.requests_finished = m.requests_finished;
    c.requests_cancelled = m.requests_cancelled;
    c.requests_failed = m.requests_failed;
    c.requests_running = m.requests_running;
    c.requests_queued = m.requests_queued;
    c.prompt_tokens = m.prompt_tokens;
    c.generated_tokens = m.generated_tokens;
    c.preemptions = m.preemptions;
    c.steps = m.steps;
    c.busy_seconds = m.busy_seconds;
    c.generated_tokens_per_second = m.generated_tokens_per_second();
    auto fill = [](const dsv32::LatencyStats& s, double* mean, double* p50, double* p99) {
      *mean = s.mean();
      *p50 = s.Quantile(0.5);
      *p99 = s.Quantile(0.99);
    };
    fill(m.ttft, &c.ttft_mean, &c.ttft_p50, &c.ttft_p99);
    fill(m.tpot, &c.tpot_mean, &c.tpot_p50, &c.tpot_p99);
    fill(m.inter_token, &c.inter_token_mean, &c.inter_token_p50, &c.inter_token_p99);
    fill(m.queue_time, &c.queue_mean, &c.queue_p50, &c.queue_p99);
    c.last_batch_sequences = m.last_batch_sequences;
    c.last_batch_tokens = m.last_batch_tokens;
    c.mean_batch_tokens = m.mean_batch_tokens();
    c.kv_used_tokens = m.kv_used_tokens;
    c.kv_capacity_tokens = m.kv_capacity_tokens;
    c.kv_used_bytes = m.kv_used_tokens * m.kv_bytes_per_token;
    c.prefix_hit_rate = m.prefix_hit_rate();
    c.expert_layers = engine->engine->expert_load().layers();
    c.experts = engine->engine->expert_load().experts();
    c.kv_page_tokens = m.kv_page_tokens;
    c.kv_pages_used = m.kv_pages_used;
    c.kv_pages_total = m.kv_pages_total;
    c.prefix_cached_pages = m.prefix_cached_pages;
    c.prefix_evicted_pages = m.prefix_evicted_pages;
    c.speculative_steps = m.speculative_steps;
    c.draft_tokens = m.draft_tokens;
    c.accepted_draft_tokens = m.accepted_draft_tokens;
    c.draft_acceptance_rate = m.draft_acceptance_rate();
    c.kv_mtp_pages_used = m.kv_mtp_pages_used;
    return CopyOut(c, metrics, "dsv32_engine_get_metrics");
  });
}

dsv32_status dsv32_engine_expert_counts(const dsv32_engine* engine, uint64_t* counts,
                                        size_t capacity, size_t* n_counts) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_expert_counts");
    if (!counts && capacity)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_engine_expert_counts: counts is NULL");
    const dsv32::ExpertLoad& load = engine->engine->expert_load();
    const auto total = static_cast<size_t>(load.layers() * load.experts());
    for (size_t i = 0; i < std::min(capacity, total); ++i)
      counts[i] = load.count(static_cast<int64_t>(i) / load.experts(),
                             static_cast<int64_t>(i) % load.experts());
    if (n_counts) *n_counts = total;
    return DSV32_OK;
  });
}

dsv32_status dsv32_engine_metrics_prometheus(const dsv32_engine* engine, char* buffer,
                                             size_t capacity, size_t* length) {
  return Guard([&] {
    if (!engine) return NullEngine("dsv32_engine_metrics_prometheus");
    if (!buffer && capacity)
      return SetError(DSV32_ERR_INVALID_ARGUMENT,
                      "dsv32_engine_metrics_prometheus: buffer is NULL");
    const std::string text =
        dsv32::PrometheusText(engine->engine->Metrics(), &engine->engine->expert_load());
    if (capacity) {
      const size_t n = std::min(capacity - 1, text.size());
      std::memcpy(buffer, text.data(), n);
      buffer[n] = '\0';
    }
    if (length) *length = text.size();
    return DSV32_OK;
  });
}

void dsv32_sampling_params_init(dsv32_sampling_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, SamplingDefaults());
}

void dsv32_engine_params_init(dsv32_engine_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, EngineDefaults());
}

void dsv32_request_params_init(dsv32_request_params* params, size_t struct_size) {
  dsv32::capi::InitParams(params, struct_size, RequestDefaults());
}

}  // extern "C"
