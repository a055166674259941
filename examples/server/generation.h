// One completion run through the engine: submits the prompt with its stop
// strings, takes the streamed tokens and the engine's text (whole UTF-8
// characters, cut at the first stop string) on the reader's thread, and
// ends the engine request on every path (finish, stop string,
// cancellation, destruction).
#pragma once

#include <dsv32/dsv32.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace dsv32_server {

// What every generating route needs from the loaded model.
struct Backend {
  dsv32_engine* engine = nullptr;
  dsv32_tokenizer* tokenizer = nullptr;
  int32_t eos_id = -1;
  int64_t max_context = 0;  // tokens per request, prompt included
  int64_t vocab_size = 0;
  // Testing only: when not empty, the i-th generated token is replaced by
  // canned[i], so the text that follows is known in advance (decoded here;
  // stop strings and constraints do not apply to it).
  std::vector<int32_t> canned;
};

struct GenerationSpec {
  std::vector<int32_t> prompt;
  dsv32_sampling_params sampling{};
  int32_t max_tokens = 0;  // 0: up to the context limit
  std::vector<int32_t> stop_tokens;
  bool stop_at_eos = true;
  std::vector<std::string> stop_strings;
  bool skip_special = true;               // leave special tokens' text out
  bool logprobs = false;                  // keep each token's logprob and alternatives
  const char* prompt_field = "messages";  // named by errors about the prompt
  // Not empty: a JSON Schema the whole output must match (constrained
  // decoding; {"type":"object"} for any JSON object), or with tools the
  // content of a reply that calls none.
  std::string json_schema;
  // Not empty: the reply is held to calls of these tools (an OpenAI tools
  // JSON array) in DSML markup, as tool_choice (JSON text) says.
  std::string tools;
  std::string tool_choice;
};

enum class Finish { kNone, kStop, kLength, kCancelled, kError };

struct TokenInfo {
  int32_t token;
  float logprob;
  std::vector<dsv32_token_logprob> top;
};

// What became certain since the last Next().
struct GenerationUpdate {
  std::string text;
  std::vector<TokenInfo> tokens;  // with spec.logprobs only
  Finish finish = Finish::kNone;
  std::string error;  // with Finish::kError
};

class Generation {
 public:
  // Submits the request; throws ApiError when the engine refuses it.
  Generation(const Backend& backend, GenerationSpec spec);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Waits up to timeout_ms for more output and takes it. Returns false when
  // nothing happened; after an update with a finish, it returns false.
  bool Next(int timeout_ms, GenerationUpdate* update);
  // Ends the request early (the client went away).
  void Cancel();

  bool finished() const { return finish_ != Finish::kNone; }
  bool started() const { return n_generated_ > 0; }
  int64_t prompt_tokens() const { return n_prompt_; }
  int64_t completion_tokens() const { return n_generated_; }

 private:
  struct Event {
    int32_t token;
    float logprob;
    std::vector<dsv32_token_logprob> top;
    bool finished;
    dsv32_finish_reason reason;
    std::string text;
  };
  // Filled on the engine's thread, drained by Next().
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Event> events;
  };
  static void OnToken(const dsv32_token_event* event, void* user_data);
  void Take(const Event& event, GenerationUpdate* update);
  void End(Finish finish, bool flush, GenerationUpdate* update);

  const Backend& backend_;
  GenerationSpec spec_;
  std::unordered_set<int32_t> stop_tokens_;
  Inbox inbox_;
  dsv32_request_id id_ = 0;
  dsv32_token_decoder* decoder_ = nullptr;  // canned output only
  int64_t n_prompt_ = 0;
  int64_t n_generated_ = 0;
  bool engine_done_ = false;
  Finish finish_ = Finish::kNone;
  bool reported_ = false;
};

}  // namespace dsv32_server
