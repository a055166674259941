// The serving engine: many requests over one model, continuously batched.
//
// Each scheduler step runs, in one batched forward pass, the next token of
// every running sequence plus chunks of pending prompts, under a per-step
// token budget. Sequences are admitted while the KV budget covers their
// whole prompt and grow one token at a time; when a decode cannot get room,
// the most recently admitted sequence of the compute lane (else of the
// interactive lane) is preempted: it goes back to the head of its queue, to
// be recomputed from its prompt plus what it had generated. Caches are pages
// of one shared pool, and full pages of finished, preempted and prefilled
// sequences stay in a prefix cache until the pool needs them, so admission
// reuses the longest cached prefix of a prompt (a readmitted sequence
// recomputes only what was evicted; engine/kv_budget.h). The interactive lane is admitted and
// decoded first and prefills in small chunks (latency); the compute lane prefills in big chunks
// (throughput).
//
// With speculative_tokens k > 0 every decoding sequence drafts up to k
// tokens per step with the model's MTP layer and the main model judges them
// in the same batched pass as everyone else's decodes and prefill chunks
// (one row for its last token and one per draft), so a step may give a
// sequence up to k + 1 tokens; its output is distributed as without
// speculation (greedy: the same tokens, up to the rounding of a wider
// matmul). Each such sequence holds an MTP cache from a second page pool in
// the same KV budget, filled during its prefill and kept in the prefix
// cache beside the main pages (engine/kv_budget.h). Requests with a grammar
// constraint, those that opt out, those that start from a KV file and
// those whose MTP cache finds no room decode plainly.
//
// Thread-safety: Submit, Cancel, Poll, Wait, Release and Metrics may be
// called from any number of threads at once. Steps run on the engine's own
// thread (Start) or on the caller's (Step), never both; Step serialises
// concurrent callers. Stream callbacks run on the stepping thread, outside
// the engine's locks, so they may call any method except Step and must not
// block for long.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/kv_budget.h"
#include "engine/metrics.h"
#include "engine/sampling.h"
#include "model/model.h"
#include "moe/moe.h"

namespace dsv32 {

class ThreadPool;
class Tokenizer;

enum class Lane { kInteractive = 0, kCompute = 1 };

enum class RequestState { kQueued = 0, kRunning = 1, kFinished = 2 };

enum class FinishReason {
  kNone = 0,
  kStopToken = 1,
  kMaxTokens = 2,
  kCancelled = 3,
  kContextFull = 4,  // the sequence reached the engine's max_context
  kError = 5,
  kStopString = 6,  // the text reached one of the stop strings
};

using RequestId = uint64_t;

// One streamed token, or the end of a request (finished, with token -1 when
// it ended without a new token, as on cancellation). With a tokenizer,
// `text` is the output text this event makes certain: whole UTF-8
// characters, held back while it could be the start of a stop string, and
// on the last event everything still held.
struct TokenEvent {
  RequestId request = 0;
  int32_t token = -1;
  std::string text;
  float logprob = 0.0f;
  std::span<const TokenLogprob> top;
  bool finished = false;
  FinishReason reason = FinishReason::kNone;
};
using StreamCallback = std::function<void(const TokenEvent&)>;

struct RequestSpec {
  std::vector<int32_t> prompt;
  // Instead of `prompt`: an OpenAI-style chat request (chat/chat_request.h),
  // encoded as DeepSeek-V3.2's prompt and tokenized by the engine's tokenizer.
  // Its tools are shown to the model; holding the reply to them is the
  // constraint's job (the C API builds one from chat/tool_call_grammar.h).
  std::string chat_request;
  SamplingParams sampling;
  int32_t max_tokens = 256;
  std::vector<int32_t> stop_tokens;       // generation ends after emitting one of these
  std::vector<std::string> stop_strings;  // or once the text contains one (needs a tokenizer)
  // Leave special tokens' text (EOS, ...) out of the streamed text, as a
  // plain completion shows it; a chat reply keeps it for its parser.
  bool skip_special_tokens = false;
  Lane lane = Lane::kInteractive;
  StreamCallback on_token;  // may be empty
  // Disaggregated prefill and decode. A prefill engine writes the
  // sequence's cache (the prompt's positions, in the cache file format) to
  // kv_export_path once the prompt is computed; a decode engine, given the
  // prompt plus the tokens generated so far and kv_import_path, starts from
  // that file instead of computing the prompt again.
  std::string kv_export_path;
  std::string kv_import_path;
  // False: plain decoding even when the engine speculates.
  bool speculative = true;
};

struct RequestStatus {
  RequestState state = RequestState::kQueued;
  FinishReason reason = FinishReason::kNone;
  std::string error;
  int64_t prompt_tokens = 0;
  std::vector<int32_t> generated;
  std::vector<float> logprobs;
  std::string text;            // the output text streamed so far (with a tokenizer)
  double queue_seconds = 0.0;  // -1 until admitted
  double ttft_seconds = -1.0;  // -1 until the first token
};

struct EngineOptions {
  int threads = 0;                      // 0: the cores this process may use
  int64_t kv_budget_bytes = 0;          // 0: room for max_running x max_context (and MTP) tokens
  KvLayout kv_layout = KvLayout::kF32;  // how the cache stores entries (f32 is exact)
  int64_t page_tokens = 64;             // tokens per KV page
  bool prefix_cache = true;             // reuse cached prompt prefixes across requests
  // Turns output into text for the stream and stop strings, and chat
  // requests into prompts; may be null (token ids only).
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t max_context = 4096;      // tokens per sequence, prompt included
  int32_t max_batch_tokens = 512;  // tokens per step, decodes and prefill chunks together
  int32_t max_running = 64;        // sequences admitted at once
  int32_t interactive_chunk = 64;  // prefill chunk of the interactive lane
  int32_t compute_chunk = 512;     // prefill chunk of the compute lane
  // Drafts per decoding sequence and step with the model's MTP layer:
  // 0 = no speculation, 1 .. 16 (the model must have the layer).
  int32_t speculative_tokens = 0;
  // For tests and benchmarks: replaces a request's drafts after the MTP
  // layer made them; `tokens` is the sequence so far, the drafts follow it.
  // Runs on the stepping thread, outside the engine's locks.
  std::function<void(RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts)>
      replace_drafts;
};

class Engine {
 public:
  // The model must outlive the engine.
  static Result<std::unique_ptr<Engine>> Create(std::shared_ptr<const Model> model,
                                                const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; checks its prompt and parameters first.
  Result<RequestId> Submit(RequestSpec spec);
  // Ends a request at the next step (or at once if it has not started);
  // NotFound for an unknown or released id, Ok if it had already ended.
  Status Cancel(RequestId id);
  Result<RequestStatus> Poll(RequestId id) const;
  // Blocks until the request ends or `timeout` passes; true if it ended.
  // A request counts as ended (here and in Poll) once its stream's last
  // callback has returned.
  Result<bool> Wait(RequestId id, std::chrono::milliseconds timeout) const;
  // Forgets an ended request (a running one is cancelled first).
  Status Release(RequestId id);

  // Runs one scheduler step on the calling thread; returns the tokens it
  // processed (0 when idle). Not to be used while Start()ed.
  Result<int64_t> Step();
  // Runs steps on a background thread until Stop() (or destruction).
  void Start();
  void Stop();

  EngineMetrics Metrics() const;
  const ExpertLoad& expert_load() const { return *expert_load_; }
  const Model& model() const { return *model_; }
  const EngineOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Request;

  Engine(std::shared_ptr<const Model> model, const EngineOptions& options,
         std::unique_ptr<KvBudget> kv);
  // Under mu_: puts the full pages of r's computed positions in the prefix cache.
  void Publish(Request* r);
  // Under mu_: the steps' plan.
  struct Plan;
  Plan Schedule();
  void Preempt(Request* r);
  // Under mu_: drafts for decoding r this step, given `budget` tokens left.
  int64_t DraftsFor(const Request& r, int64_t budget) const;
  void Finish(Request* r, FinishReason reason, std::vector<TokenEvent>* events);
  // The text token `token` adds to r's output (stop strings applied); true
  // when it completes a stop string.
  bool AddText(Request* r, int32_t token, std::string* text);
  // What r's text still holds back, at its end.
  void FlushText(Request* r, std::string* text);
  // Under mu_: appends generated token t to r and its event (stop tokens
  // and strings, max_tokens and max_context applied); true when r ended.
  bool Emit(Request* r, const SampledToken& t, Clock::time_point now,
            std::vector<TokenEvent>* events, std::vector<StreamCallback>* callbacks);
  void RunLoop();

  std::shared_ptr<const Model> model_;
  EngineOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ExpertLoad> expert_load_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<RequestId, std::unique_ptr<Request>> requests_;
  std::deque<Request*> queued_[2];  // by lane
  std::vector<Request*> running_;   // in admission order
  std::unique_ptr<KvBudget> kv_;
  EngineMetrics metrics_;
  RequestId next_id_ = 1;

  std::mutex step_mu_;
  std::thread loop_;
  bool stop_ = false;
};

}  // namespace dsv32
