#include "generation.h"

#include <algorithm>
#include <chrono>

#include "api_error.h"

namespace dsv32_server {

namespace {

// The HTTP status of a request the engine refused.
int SubmitErrorStatus(dsv32_status status) {
  switch (status) {
    case DSV32_ERR_INVALID_ARGUMENT:
    case DSV32_ERR_UNSUPPORTED:
    case DSV32_ERR_OUT_OF_RANGE:
    case DSV32_ERR_OUT_OF_MEMORY:
      return 400;
    default:
      return 500;
  }
}

// The request field a refused constraint came from: the engine's message
// names the part at fault ("tools: tools[0] (f) property ...", "tools:
// content schema: ...", "tool_choice: ...").
std::string ConstraintField(const GenerationSpec& spec, const std::string& message) {
  const auto says = [&](const char* what) { return message.find(what) != std::string::npos; };
  if (says("content schema")) return "response_format";
  if (says("tool_choice")) return "tool_choice";
  if (says(": tools")) return "tools";
  return spec.json_schema.empty() ? "" : "response_format";
}

}  // namespace

Generation::Generation(const Backend& backend, GenerationSpec spec)
    : backend_(backend), spec_(std::move(spec)) {
  n_prompt_ = static_cast<int64_t>(spec_.prompt.size());
  if (n_prompt_ >= backend_.max_context)
    throw ApiError(400,
                   "the prompt has " + std::to_string(n_prompt_) +
                       " tokens; this server's context limit is " +
                       std::to_string(backend_.max_context) + " tokens, prompt and output together",
                   spec_.prompt_field, {}, "context_length_exceeded");
  const int64_t room = backend_.max_context - n_prompt_;
  int64_t max_tokens = spec_.max_tokens > 0 ? std::min<int64_t>(spec_.max_tokens, room) : room;
  if (!backend_.canned.empty())
    max_tokens = std::min<int64_t>(max_tokens, static_cast<int64_t>(backend_.canned.size()));

  stop_tokens_.insert(spec_.stop_tokens.begin(), spec_.stop_tokens.end());
  if (spec_.stop_at_eos && backend_.eos_id >= 0) stop_tokens_.insert(backend_.eos_id);

  dsv32_request_params request = dsv32_request_default_params();
  request.prompt = spec_.prompt.data();
  request.n_prompt = spec_.prompt.size();
  request.sampling = &spec_.sampling;
  request.max_tokens = static_cast<int32_t>(max_tokens);
  // Canned output decides its own end and is decoded here; otherwise the
  // engine stops at once and streams the text.
  const bool canned = !backend_.canned.empty();
  std::vector<const char*> stop_strings;
  if (canned) {
    if (dsv32_token_decoder_create(backend_.tokenizer, spec_.skip_special ? 1 : 0, &decoder_) !=
        DSV32_OK)
      throw ApiError(500, std::string("token decoder: ") + dsv32_last_error());
  } else {
    request.stop_tokens = spec_.stop_tokens.data();
    request.n_stop_tokens = spec_.stop_tokens.size();
    for (const std::string& stop : spec_.stop_strings) stop_strings.push_back(stop.c_str());
    request.stop_strings = stop_strings.data();
    request.n_stop_strings = stop_strings.size();
    request.skip_special_tokens = spec_.skip_special ? 1 : 0;
  }
  request.stop_at_eos = spec_.stop_at_eos && !canned ? 1 : 0;
  // Canned output is the reply whatever the constraint would say.
  if (!canned && !spec_.json_schema.empty()) request.json_schema = spec_.json_schema.c_str();
  if (!canned && !spec_.tools.empty()) {
    request.tools = spec_.tools.c_str();
    request.tool_choice = spec_.tool_choice.c_str();
  }
  request.tokenizer = backend_.tokenizer;
  request.on_token = &Generation::OnToken;
  request.user_data = &inbox_;
  const dsv32_status s = dsv32_engine_submit(backend_.engine, &request, &id_);
  if (s != DSV32_OK) {
    const std::string message = dsv32_last_error();
    dsv32_token_decoder_free(decoder_);
    throw ApiError(SubmitErrorStatus(s), message, ConstraintField(spec_, message));
  }
}

Generation::~Generation() {
  // The callback writes into inbox_, so the request must have ended (its
  // last callback returned) before this object goes.
  dsv32_engine_cancel(backend_.engine, id_);
  dsv32_engine_wait(backend_.engine, id_, -1, nullptr);
  dsv32_engine_release(backend_.engine, id_);
  dsv32_token_decoder_free(decoder_);
}

void Generation::OnToken(const dsv32_token_event* e, void* user_data) {
  auto* inbox = static_cast<Inbox*>(user_data);
  Event event{e->token,         e->logprob, {e->top, e->top + e->n_top},
              e->finished != 0, e->reason,  std::string(e->text, e->text_length)};
  {
    std::lock_guard lock(inbox->mu);
    inbox->events.push_back(std::move(event));
  }
  inbox->cv.notify_all();
}

void Generation::Cancel() {
  if (!engine_done_) dsv32_engine_cancel(backend_.engine, id_);
}

bool Generation::Next(int timeout_ms, GenerationUpdate* update) {
  *update = GenerationUpdate{};
  if (reported_) return false;
  std::vector<Event> events;
  {
    std::unique_lock lock(inbox_.mu);
    inbox_.cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return !inbox_.events.empty(); });
    events.swap(inbox_.events);
  }
  for (const Event& e : events) Take(e, update);
  if (finish_ != Finish::kNone) {
    reported_ = true;
    return true;
  }
  return !update->text.empty() || !update->tokens.empty();
}

void Generation::Take(const Event& e, GenerationUpdate* update) {
  if (e.finished) engine_done_ = true;
  if (finish_ != Finish::kNone) return;
  if (!decoder_) update->text += e.text;
  if (e.token >= 0) {
    const int32_t token = decoder_ ? backend_.canned[static_cast<size_t>(n_generated_)] : e.token;
    ++n_generated_;
    if (spec_.logprobs) update->tokens.push_back({token, e.logprob, e.top});
    if (decoder_) {
      const char* piece = nullptr;
      size_t length = 0;
      if (dsv32_token_decoder_push(decoder_, token, &piece, &length) == DSV32_OK)
        update->text.append(piece, length);
      if (stop_tokens_.count(token)) return End(Finish::kStop, /*flush=*/true, update);
    }
  }
  if (!e.finished) return;
  switch (e.reason) {
    case DSV32_FINISH_STOP_TOKEN:
    case DSV32_FINISH_STOP_STRING:
      return End(Finish::kStop, /*flush=*/true, update);
    case DSV32_FINISH_MAX_TOKENS:
    case DSV32_FINISH_CONTEXT_FULL:
      return End(Finish::kLength, /*flush=*/true, update);
    case DSV32_FINISH_CANCELLED:
      return End(Finish::kCancelled, /*flush=*/false, update);
    default: {
      dsv32_request_status status{};
      status.struct_size = sizeof status;
      dsv32_engine_poll(backend_.engine, id_, &status);
      update->error = dsv32_last_error();
      if (update->error.empty()) update->error = "the forward pass failed";
      return End(Finish::kError, /*flush=*/false, update);
    }
  }
}

void Generation::End(Finish finish, bool flush, GenerationUpdate* update) {
  finish_ = finish;
  update->finish = finish;
  if (flush && decoder_) {
    // Releases what the decoder holds (the engine's last event carries its own).
    const char* piece = nullptr;
    size_t length = 0;
    if (dsv32_token_decoder_push(decoder_, -1, &piece, &length) == DSV32_OK)
      update->text.append(piece, length);
  }
  Cancel();
}

}  // namespace dsv32_server
