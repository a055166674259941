#include "engine/engine.h"

#include <algorithm>

#include "attention/kv_file.h"
#include "chat/chat_encoder.h"
#include "core/thread_pool.h"
#include "engine/speculative.h"
#include "engine/speculative_state.h"
#include "engine/stop_strings.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace dsv32 {

struct Engine::Request {
  RequestId id = 0;
  RequestSpec spec;
  Sampler sampler;
  std::vector<int32_t> tokens;  // prompt, then every generated token
  std::vector<float> logprobs;  // one per generated token
  int64_t prompt_len = 0;
  int64_t computed = 0;  // tokens already in the cache
  SequenceKv kv;
  RequestState state = RequestState::kQueued;
  FinishReason reason = FinishReason::kNone;
  std::string error;
  bool cancel = false;
  bool release = false;  // forget once it has ended
  // The stream's last event has returned: only then do Poll and Wait report
  // the end, so a caller may free what its callback writes to.
  bool delivered = false;
  bool admitted_once = false;
  Clock::time_point submitted, admitted, first_token, last_token;
  std::optional<StreamDecoder> decoder;  // with a tokenizer
  StopStrings stops;
  std::string text;  // streamed so far
  // This admission decodes speculatively (kv.mtp is its MTP cache).
  bool speculating = false;
  SpeculativeState speculation;

  Request(RequestId id, RequestSpec s)
      : id(id), spec(std::move(s)), sampler(spec.sampling), stops(spec.stop_strings) {}
  int64_t generated() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - computed; }
};

struct Engine::Plan {
  struct Item {
    Request* request;
    int64_t tokens;
    int64_t drafts = 0;  // a speculative decode: the last token and this many drafts
  };
  std::vector<Item> items;
  std::vector<std::pair<StreamCallback, TokenEvent>> events;  // from cancellations
};

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Engine::Engine(std::shared_ptr<const Model> model, const EngineOptions& options,
               std::unique_ptr<KvBudget> kv)
    : model_(std::move(model)),
      options_(options),
      pool_(std::make_unique<ThreadPool>(options.threads ? options.threads : DefaultThreadCount())),
      expert_load_(std::make_unique<ExpertLoad>(model_->config().num_hidden_layers,
                                                model_->config().n_routed_experts)),
      kv_(std::move(kv)) {
  metrics_.kv_capacity_tokens = kv_->capacity_tokens();
  metrics_.kv_bytes_per_token = kv_->bytes_per_token();
  metrics_.kv_page_tokens = kv_->page_tokens();
  metrics_.kv_pages_total = kv_->max_pages();
}

Result<std::unique_ptr<Engine>> Engine::Create(std::shared_ptr<const Model> model,
                                               const EngineOptions& given) {
  if (!model) return InvalidArgument("engine: no model");
  EngineOptions o = given;
  if (o.threads < 0 || o.max_context < 0 || o.kv_budget_bytes < 0)
    return InvalidArgument("engine: threads, max_context and kv_budget_bytes must be >= 0");
  if (o.page_tokens < 1) return InvalidArgument("engine: page_tokens must be >= 1");
  if (o.max_batch_tokens < 1 || o.max_running < 1 || o.interactive_chunk < 1 || o.compute_chunk < 1)
    return InvalidArgument(
        "engine: max_batch_tokens, max_running and the chunk sizes must be >= 1");
  if (o.speculative_tokens < 0 || o.speculative_tokens > kMaxDraftTokens)
    return InvalidArgument("engine: speculative_tokens must be in [0, " +
                           std::to_string(kMaxDraftTokens) + "], got " +
                           std::to_string(o.speculative_tokens));
  if (o.speculative_tokens > 0)
    DSV32_RETURN_IF_ERROR(model->RequireMtp().WithContext("engine: speculative decoding"));
  const ModelConfig& c = model->config();
  if (o.max_context == 0 || o.max_context > c.max_position_embeddings)
    o.max_context = c.max_position_embeddings;
  KvBudgetOptions kv;
  kv.pool.layout = o.kv_layout;
  kv.pool.page_tokens = o.page_tokens;
  if (o.kv_budget_bytes == 0) {
    // Whole pages for max_running sequences of max_context tokens.
    const int64_t pages = (o.max_context + o.page_tokens - 1) / o.page_tokens;
    int64_t page_bytes = KvPagePool::PageBytes(c, kv.pool);
    if (o.speculative_tokens > 0)
      page_bytes += KvPagePool::PageBytes(model->mtp_cache_config(), kv.pool);
    o.kv_budget_bytes = o.max_running * pages * page_bytes;
  }
  kv.pool.budget_bytes = o.kv_budget_bytes;
  if (o.speculative_tokens > 0) kv.mtp_config = &model->mtp_cache_config();
  kv.max_context = o.max_context;
  kv.prefix_cache = o.prefix_cache;
  auto budget = KvBudget::Create(c, kv);
  if (!budget.ok()) return budget.status();
  return std::unique_ptr<Engine>(new Engine(std::move(model), o, std::move(budget).value()));
}

Engine::~Engine() { Stop(); }

Result<RequestId> Engine::Submit(RequestSpec spec) {
  const ModelConfig& c = model_->config();
  const Tokenizer* tokenizer = options_.tokenizer.get();
  if (!spec.chat_request.empty()) {
    if (!spec.prompt.empty()) return InvalidArgument("give a prompt or a chat request, not both");
    if (!tokenizer) return InvalidArgument("a chat request needs an engine with a tokenizer");
    auto text = chat::EncodeChatJson(spec.chat_request);
    if (!text.ok()) return text.status().WithContext("chat request");
    // The prompt's markup is the encoder's own, so its special tokens are parsed.
    auto ids = tokenizer->Encode(*text, EncodeOptions{.add_bos = false});
    if (!ids.ok()) return ids.status().WithContext("chat request");
    spec.prompt = std::move(ids).value();
  }
  if (!spec.stop_strings.empty() && !tokenizer)
    return InvalidArgument("stop strings need an engine with a tokenizer");
  for (const std::string& stop : spec.stop_strings)
    if (stop.empty()) return InvalidArgument("a stop string is empty");
  const auto n = static_cast<int64_t>(spec.prompt.size());
  if (n == 0) return InvalidArgument("the prompt is empty");
  for (size_t i = 0; i < spec.prompt.size(); ++i)
    if (spec.prompt[i] < 0 || spec.prompt[i] >= c.vocab_size)
      return OutOfRange("prompt token " + std::to_string(spec.prompt[i]) + " at index " +
                        std::to_string(i) + " is outside the vocabulary [0, " +
                        std::to_string(c.vocab_size) + ")");
  if (n > kv_->max_context())
    return OutOfRange("a prompt of " + std::to_string(n) + " tokens exceeds max_context " +
                      std::to_string(kv_->max_context()));
  if (n > kv_->capacity_tokens())
    return OutOfMemory("a prompt of " + std::to_string(n) +
                       " tokens can never fit the KV budget of " +
                       std::to_string(kv_->capacity_tokens()) + " tokens");
  if (spec.max_tokens < 1) return InvalidArgument("max_tokens must be >= 1");
  if (spec.lane != Lane::kInteractive && spec.lane != Lane::kCompute)
    return InvalidArgument("unknown lane");
  DSV32_RETURN_IF_ERROR(ValidateSamplingParams(spec.sampling));

  std::lock_guard lock(mu_);
  const RequestId id = next_id_++;
  auto r = std::make_unique<Request>(id, std::move(spec));
  r->tokens = r->spec.prompt;
  r->prompt_len = n;
  if (tokenizer)
    r->decoder.emplace(*tokenizer,
                       DecodeOptions{.skip_special_tokens = r->spec.skip_special_tokens});
  r->sampler.ObservePrompt(r->tokens);
  r->submitted = Clock::now();
  queued_[static_cast<int>(r->spec.lane)].push_back(r.get());
  requests_[id] = std::move(r);
  ++metrics_.requests_submitted;
  changed_.notify_all();
  return id;
}

Status Engine::Cancel(RequestId id) {
  std::lock_guard lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return NotFound("no request " + std::to_string(id));
  if (it->second->state != RequestState::kFinished) it->second->cancel = true;
  changed_.notify_all();
  return Status::Ok();
}

Result<RequestStatus> Engine::Poll(RequestId id) const {
  std::lock_guard lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return NotFound("no request " + std::to_string(id));
  const Request& r = *it->second;
  RequestStatus s;
  const bool ended = r.state == RequestState::kFinished && r.delivered;
  s.state = r.state == RequestState::kFinished && !ended ? RequestState::kRunning : r.state;
  s.reason = ended ? r.reason : FinishReason::kNone;
  s.error = r.error;
  s.prompt_tokens = r.prompt_len;
  s.generated.assign(r.tokens.begin() + r.prompt_len, r.tokens.end());
  s.logprobs = r.logprobs;
  s.text = r.text;
  s.queue_seconds = r.admitted_once ? Seconds(r.admitted - r.submitted) : -1.0;
  s.ttft_seconds = r.generated() > 0 ? Seconds(r.first_token - r.submitted) : -1.0;
  return s;
}

Result<bool> Engine::Wait(RequestId id, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  bool known = true;
  const bool ended = changed_.wait_for(lock, timeout, [&] {
    auto it = requests_.find(id);
    known = it != requests_.end();
    return !known || it->second->delivered;
  });
  if (!known) return NotFound("no request " + std::to_string(id));
  return ended;
}

Status Engine::Release(RequestId id) {
  std::lock_guard lock(mu_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return NotFound("no request " + std::to_string(id));
  Request& r = *it->second;
  if (r.state == RequestState::kFinished) {
    requests_.erase(it);
  } else {
    // A running request may be inside the current step's forward pass; the
    // step forgets it once it has ended.
    r.cancel = true;
    r.release = true;
  }
  changed_.notify_all();
  return Status::Ok();
}

void Engine::Publish(Request* r) {
  kv_->Publish(r->kv, std::span<const int32_t>(r->tokens).first(static_cast<size_t>(r->computed)));
}

void Engine::Preempt(Request* r) {
  Publish(r);
  kv_->Free(&r->kv);
  r->computed = 0;
  r->speculating = false;
  r->speculation.Clear();
  running_.erase(std::find(running_.begin(), running_.end(), r));
  r->state = RequestState::kQueued;
  queued_[static_cast<int>(r->spec.lane)].push_front(r);
  ++metrics_.preemptions;
}

void Engine::Finish(Request* r, FinishReason reason, std::vector<TokenEvent>* events) {
  if (r->state == RequestState::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), r));
  } else if (r->state == RequestState::kQueued) {
    auto& q = queued_[static_cast<int>(r->spec.lane)];
    q.erase(std::find(q.begin(), q.end(), r));
  }
  // A failed forward may have left the cache half written.
  if (reason != FinishReason::kError) Publish(r);
  kv_->Free(&r->kv);
  r->state = RequestState::kFinished;
  r->reason = reason;
  ++metrics_.requests_finished;
  if (reason == FinishReason::kCancelled) ++metrics_.requests_cancelled;
  if (reason == FinishReason::kError) ++metrics_.requests_failed;
  if (r->generated() >= 2)
    metrics_.tpot.Add(Seconds(r->last_token - r->first_token) /
                      static_cast<double>(r->generated() - 1));
  if (events) {
    TokenEvent e;
    e.request = r->id;
    e.finished = true;
    e.reason = reason;
    FlushText(r, &e.text);
    events->push_back(e);
  }
}

bool Engine::AddText(Request* r, int32_t token, std::string* text) {
  if (!r->decoder) return false;
  std::string piece;
  // An id the tokenizer does not know (a model whose vocabulary is larger
  // than its tokenizer's) shows as U+FFFD rather than vanishing.
  if (!r->decoder->Push(token, &piece).ok()) piece = "\xEF\xBF\xBD";
  const size_t before = text->size();
  const bool stopped = r->stops.Push(piece, text);
  r->text.append(*text, before);
  return stopped;
}

void Engine::FlushText(Request* r, std::string* text) {
  if (!r->decoder) return;
  const size_t before = text->size();
  std::string rest;
  r->decoder->Finish(&rest);
  r->stops.Push(rest, text);
  r->stops.Flush(text);
  r->text.append(*text, before);
}

bool Engine::Emit(Request* r, const SampledToken& t, Clock::time_point now,
                  std::vector<TokenEvent>* events, std::vector<StreamCallback>* callbacks) {
  r->tokens.push_back(t.token);
  r->logprobs.push_back(t.logprob);
  // A speculative step's cache holds the tokens it accepted: all but the
  // newest are computed.
  r->computed = static_cast<int64_t>(r->tokens.size()) - 1;
  ++metrics_.generated_tokens;
  if (r->generated() == 1) {
    // The prompt is complete: later requests with the same start may share it.
    Publish(r);
    if (!r->spec.kv_export_path.empty()) {
      Status saved = SaveSequenceCache(
          r->spec.kv_export_path, model_->config_hash(), *r->kv.cache,
          std::span<const int32_t>(r->tokens).first(static_cast<size_t>(r->prompt_len)));
      if (!saved.ok()) {
        r->error = saved.message();
        Finish(r, FinishReason::kError, events);
        callbacks->push_back(r->spec.on_token);
        return true;
      }
    }
    r->first_token = now;
    metrics_.ttft.Add(Seconds(now - r->submitted));
  } else {
    metrics_.inter_token.Add(Seconds(now - r->last_token));
  }
  r->last_token = now;

  TokenEvent e;
  e.request = r->id;
  e.token = t.token;
  e.logprob = t.logprob;
  e.top = t.top;
  const bool stop_string = AddText(r, t.token, &e.text);
  const auto& stops = r->spec.stop_tokens;
  if (stop_string) {
    e.reason = FinishReason::kStopString;
  } else if (std::find(stops.begin(), stops.end(), t.token) != stops.end()) {
    e.reason = FinishReason::kStopToken;
  } else if (r->generated() >= r->spec.max_tokens) {
    e.reason = FinishReason::kMaxTokens;
  } else if (static_cast<int64_t>(r->tokens.size()) >= kv_->max_context()) {
    e.reason = FinishReason::kContextFull;
  }
  if (e.reason != FinishReason::kNone) {
    e.finished = true;
    if (e.reason != FinishReason::kStopString) FlushText(r, &e.text);
    Finish(r, e.reason, nullptr);
  }
  events->push_back(e);
  callbacks->push_back(r->spec.on_token);
  return e.finished;
}

Engine::Plan Engine::Schedule() {
  Plan plan;
  // Cancellations first: they free room for everyone else.
  std::vector<TokenEvent> cancelled;
  std::vector<Request*> to_cancel;
  for (auto& [id, r] : requests_)
    if (r->cancel && r->state != RequestState::kFinished) to_cancel.push_back(r.get());
  for (Request* r : to_cancel) {
    Finish(r, FinishReason::kCancelled, &cancelled);
    plan.events.emplace_back(r->spec.on_token, cancelled.back());
  }

  int64_t budget = options_.max_batch_tokens;
  auto planned = [&](const Request* r) {
    return std::any_of(plan.items.begin(), plan.items.end(),
                       [r](const Plan::Item& i) { return i.request == r; });
  };
  // The newest sequence outside the plan, compute lane before interactive.
  auto victim = [&](const Request* except) -> Request* {
    for (Lane lane : {Lane::kCompute, Lane::kInteractive})
      for (auto it = running_.rbegin(); it != running_.rend(); ++it)
        if ((*it)->spec.lane == lane && *it != except && !planned(*it)) return *it;
    return nullptr;
  };

  // 1. One token for every decoding sequence, interactive lane first.
  for (Lane lane : {Lane::kInteractive, Lane::kCompute}) {
    const std::vector<Request*> snapshot = running_;
    for (Request* r : snapshot) {
      if (budget == 0) break;
      if (r->spec.lane != lane || r->state != RequestState::kRunning || r->pending() != 1) continue;
      // Drafts only where both caches have room for them already: they
      // never preempt anyone.
      const auto N = static_cast<int64_t>(r->tokens.size());
      if (const int64_t k = DraftsFor(*r, budget); k > 0) {
        if (kv_->Reserve(&r->kv, N + k)) {
          if (kv_->ReserveMtp(&r->kv, N - 1 + k)) {
            plan.items.push_back({r, 1 + k, k});
            budget -= 1 + k;
            continue;
          }
          // The MTP pool is short (its pages are shared less than the main
          // ones can be): this admission decodes plainly from here on.
          kv_->FreeMtp(&r->kv);
          r->speculating = false;
          r->speculation.Clear();
        }
      }
      bool fits = true;
      while (!kv_->Reserve(&r->kv, static_cast<int64_t>(r->tokens.size()))) {
        Request* v = victim(r);
        if (!v) {
          fits = false;
          break;
        }
        Preempt(v);
      }
      if (!fits) {
        // Nobody else holds room: this sequence alone outgrew the budget.
        if (running_.size() == 1) {
          Finish(r, FinishReason::kContextFull, &cancelled);
          plan.events.emplace_back(r->spec.on_token, cancelled.back());
        } else {
          Preempt(r);
        }
        continue;
      }
      plan.items.push_back({r, 1});
      --budget;
    }
  }
  auto chunk = [&](const Request* r) {
    const int64_t c =
        r->spec.lane == Lane::kInteractive ? options_.interactive_chunk : options_.compute_chunk;
    return std::min({r->pending(), c, budget});
  };
  // 2. The next chunk of prompts already admitted.
  for (Lane lane : {Lane::kInteractive, Lane::kCompute})
    for (Request* r : running_) {
      if (budget == 0) break;
      if (r->spec.lane != lane || r->pending() <= 1 || planned(r)) continue;
      const int64_t n = chunk(r);
      plan.items.push_back({r, n});
      budget -= n;
    }
  // 3. Admission, while the pool has pages for the whole prompt past its
  // longest cached prefix.
  for (Lane lane : {Lane::kInteractive, Lane::kCompute}) {
    auto& queue = queued_[static_cast<int>(lane)];
    while (budget > 0 && !queue.empty() &&
           static_cast<int64_t>(running_.size()) < options_.max_running) {
      Request* r = queue.front();
      std::optional<int64_t> reused;
      if (!r->spec.kv_import_path.empty() && !r->admitted_once) {
        auto imported =
            kv_->AdmitFromFile(&r->kv, r->tokens, r->spec.kv_import_path, model_->config_hash());
        if (!imported.ok()) {
          r->error = imported.status().message();
          Finish(r, FinishReason::kError, &cancelled);
          plan.events.emplace_back(r->spec.on_token, cancelled.back());
          continue;
        }
        reused = *imported;
      } else {
        reused = kv_->Admit(
            &r->kv, r->tokens,
            options_.speculative_tokens > 0 && r->spec.speculative && !r->sampler.constraint());
      }
      if (!reused) {
        // A preempted sequence may have grown past what the whole budget holds.
        if (running_.empty() && plan.items.empty()) {
          Finish(r, FinishReason::kContextFull, &cancelled);
          plan.events.emplace_back(r->spec.on_token, cancelled.back());
          continue;
        }
        break;
      }
      queue.pop_front();
      running_.push_back(r);
      r->state = RequestState::kRunning;
      r->computed = *reused;
      r->speculating = r->kv.mtp != nullptr;
      r->speculation.Clear();
      ++metrics_.prefix_lookups;
      metrics_.prefix_lookup_tokens += r->tokens.size();
      metrics_.prefix_hit_tokens += static_cast<uint64_t>(*reused);
      if (!r->admitted_once) {
        r->admitted_once = true;
        r->admitted = Clock::now();
        metrics_.queue_time.Add(Seconds(r->admitted - r->submitted));
      }
      const int64_t n = chunk(r);
      plan.items.push_back({r, n});
      budget -= n;
    }
  }
  return plan;
}

int64_t Engine::DraftsFor(const Request& r, int64_t budget) const {
  if (!r.speculating) return 0;
  const auto N = static_cast<int64_t>(r.tokens.size());
  // A step of a drafts accepted adds a + 1 tokens: no drafts past what
  // max_tokens and max_context leave.
  return std::max<int64_t>(
      0, std::min({static_cast<int64_t>(options_.speculative_tokens), budget - 1,
                   kv_->max_context() - N - 1, r.spec.max_tokens - r.generated() - 1}));
}

Result<int64_t> Engine::Step() {
  std::lock_guard step_lock(step_mu_);
  const auto start = Clock::now();
  Plan plan;
  {
    std::lock_guard lock(mu_);
    plan = Schedule();
  }
  const ModelConfig& c = model_->config();
  const auto V = static_cast<size_t>(c.vocab_size);

  // Drafting, the forward pass and sampling run without the lock: only
  // this thread touches a running sequence's caches and sampler.
  const size_t items = plan.items.size();
  std::vector<Status> failed(items, Status::Ok());  // a request's own failure
  std::vector<std::vector<int32_t>> verify(items);  // a speculative decode's tokens
  std::vector<MtpDraftJob> jobs;
  std::vector<size_t> drafting;  // the plan item of each job
  for (size_t i = 0; i < items; ++i) {
    const Plan::Item& item = plan.items[i];
    if (item.drafts == 0) continue;
    Request* r = item.request;
    jobs.push_back(r->speculation.DraftJob(r->tokens, item.drafts,
                                           r->spec.sampling.temperature == 0.0f, &r->sampler,
                                           r->kv.mtp.get()));
    drafting.push_back(i);
  }
  // Every speculating sequence drafts in the same MTP passes.
  const Status drafted =
      jobs.empty() ? Status::Ok() : DraftBatchWithMtp(*model_, jobs, pool_.get());
  for (size_t i : drafting) {
    Request* r = plan.items[i].request;
    MtpDrafts& d = r->speculation.drafts();
    failed[i] = drafted;
    if (failed[i].ok() && options_.replace_drafts) {
      options_.replace_drafts(r->id, r->tokens, d.tokens);
      failed[i] = AdoptReplacedDrafts(c.vocab_size, r->spec.sampling.temperature == 0.0f, &d);
    }
    verify[i] = {r->tokens.back()};
    verify[i].insert(verify[i].end(), d.tokens.begin(), d.tokens.end());
  }

  std::vector<SequenceStep> steps;
  std::vector<size_t> step_item;  // the plan item of each step
  std::vector<float> logits;
  std::vector<std::vector<float>> hidden(items);
  size_t rows = 0;
  auto wants_logits = [](const Plan::Item& item) {
    const Request* r = item.request;
    return r->computed + item.tokens == static_cast<int64_t>(r->tokens.size()) + item.drafts;
  };
  for (const Plan::Item& item : plan.items)
    if (wants_logits(item)) rows += static_cast<size_t>(1 + item.drafts);
  logits.resize(rows * V);
  rows = 0;
  for (size_t i = 0; i < items; ++i) {
    const Plan::Item& item = plan.items[i];
    Request* r = item.request;
    if (!failed[i].ok()) continue;
    SequenceStep s;
    s.cache = r->kv.cache.get();
    s.tokens = item.drafts
                   ? std::span<const int32_t>(verify[i])
                   : std::span<const int32_t>(r->tokens).subspan(static_cast<size_t>(r->computed),
                                                                 static_cast<size_t>(item.tokens));
    s.first_position = r->computed;
    if (wants_logits(item)) {
      s.logits = &logits[rows * V];
      rows += static_cast<size_t>(1 + item.drafts);
    }
    if (item.drafts) {
      s.all_logits = true;
      s.attention_path = kSpeculativeStepAttention;
    }
    if (r->speculating) s.last_hidden = &hidden[i];
    steps.push_back(s);
    step_item.push_back(i);
  }
  Status forward = Status::Ok();
  std::vector<std::optional<SampledToken>> sampled(items);
  std::vector<std::vector<SampledToken>> judged(items);  // a speculative decode's tokens
  std::vector<int64_t> accepted(items, 0);
  if (!steps.empty()) {
    forward = model_->ForwardBatch(steps, pool_.get(), expert_load_.get());
    for (size_t j = 0; forward.ok() && j < steps.size(); ++j) {
      const size_t i = step_item[j];
      Request* r = plan.items[i].request;
      const int64_t k = plan.items[i].drafts;
      const auto N = static_cast<int64_t>(r->tokens.size());
      if (k > 0) {
        const std::span<const float> all(steps[j].logits, static_cast<size_t>(k + 1) * V);
        accepted[i] = JudgeDrafts(all, r->speculation.drafts(),
                                  r->spec.sampling.temperature == 0.0f, &r->sampler, &judged[i]);
        r->speculation.AfterVerify(N, accepted[i], hidden[i], r->kv.cache.get(), r->kv.mtp.get());
        continue;
      }
      if (r->speculating)
        failed[i] = r->speculation.AddHidden(*model_, r->tokens, steps[j].first_position, hidden[i],
                                             pool_.get(), r->kv.mtp.get());
      if (failed[i].ok() && steps[j].logits)
        sampled[i] = r->sampler.Sample(std::span<const float>(steps[j].logits, V));
    }
  }

  std::vector<TokenEvent> events;
  std::vector<StreamCallback> callbacks;
  int64_t processed = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (size_t i = 0; i < plan.items.size(); ++i) {
      Request* r = plan.items[i].request;
      const int64_t n = plan.items[i].tokens;
      const int64_t k = plan.items[i].drafts;
      processed += n;
      if (!forward.ok() || !failed[i].ok()) {
        r->error = forward.ok() ? failed[i].message() : forward.message();
        Finish(r, FinishReason::kError, &events);
        callbacks.push_back(r->spec.on_token);
        continue;
      }
      // Everything but a decode token is prompt work (recomputation included).
      const bool decode = k > 0 || (n == 1 && r->pending() == 1 && r->generated() > 0);
      if (!decode) metrics_.prompt_tokens += n;
      r->computed += n - k;
      if (k > 0) {
        ++metrics_.speculative_steps;
        metrics_.draft_tokens += static_cast<uint64_t>(k);
        metrics_.accepted_draft_tokens += static_cast<uint64_t>(accepted[i]);
      } else if (sampled[i]) {
        r->sampler.Accept(sampled[i]->token);
        judged[i].push_back(std::move(*sampled[i]));
      }
      // A speculative step's tokens go out one by one until one ends the
      // request: nothing after a stop is emitted.
      for (const SampledToken& t : judged[i])
        if (Emit(r, t, now, &events, &callbacks)) break;
    }
    for (auto& [cb, e] : plan.events) {
      callbacks.push_back(cb);
      events.push_back(e);
    }
    for (auto it = requests_.begin(); it != requests_.end();)
      it = it->second->release && it->second->state == RequestState::kFinished ? requests_.erase(it)
                                                                               : std::next(it);
    metrics_.last_batch_sequences = plan.items.size();
    metrics_.last_batch_tokens = static_cast<uint64_t>(processed);
    if (!plan.items.empty()) {
      ++metrics_.steps;
      metrics_.batch_tokens_total += static_cast<uint64_t>(processed);
      metrics_.busy_seconds += Seconds(Clock::now() - start);
    }
    changed_.notify_all();
  }
  for (size_t i = 0; i < events.size(); ++i)
    if (callbacks[i]) callbacks[i](events[i]);
  {
    std::lock_guard lock(mu_);
    for (const TokenEvent& e : events) {
      if (!e.finished) continue;
      auto it = requests_.find(e.request);
      if (it != requests_.end()) it->second->delivered = true;
    }
    changed_.notify_all();
  }
  if (!forward.ok()) return forward;
  return processed;
}

void Engine::RunLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] {
        if (stop_) return true;
        if (!running_.empty() || !queued_[0].empty() || !queued_[1].empty()) return true;
        for (auto& [id, r] : requests_)
          if (r->cancel && r->state != RequestState::kFinished) return true;
        return false;
      });
      if (stop_) return;
    }
    // A failed step has already ended the requests it touched.
    (void)Step();
  }
}

void Engine::Start() {
  std::lock_guard lock(mu_);
  if (loop_.joinable()) return;
  stop_ = false;
  loop_ = std::thread([this] { RunLoop(); });
}

void Engine::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    changed_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
}

EngineMetrics Engine::Metrics() const {
  std::lock_guard lock(mu_);
  EngineMetrics m = metrics_;
  m.requests_running = running_.size();
  m.requests_queued = queued_[0].size() + queued_[1].size();
  const int64_t cached_only = kv_->ReclaimablePages();
  m.kv_pages_used = kv_->used_pages();
  m.kv_mtp_pages_used = kv_->mtp_used_pages();
  m.prefix_cached_pages = kv_->cached_pages();
  m.prefix_evicted_pages = static_cast<uint64_t>(kv_->prefix_stats().evicted_pages);
  m.kv_used_tokens = (m.kv_pages_used - cached_only) * kv_->page_tokens();
  return m;
}

}  // namespace dsv32
