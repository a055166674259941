#include "completion_request.h"

#include "api_error.h"
#include "chat_request.h"

namespace dsv32_server {

namespace {

bool IsTokenArray(const nlohmann::json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const nlohmann::json& x : v)
    if (!x.is_number_integer()) return false;
  return true;
}

// "prompt" is a string or token ids, alone or as the one item of an array
// (several prompts would be several choices, and only n = 1 is served).
std::vector<int32_t> ReadPrompt(const Fields& body, const Backend& backend) {
  const nlohmann::json* prompt = body.Get("prompt");
  if (!prompt) throw InvalidField("prompt", "missing");
  const nlohmann::json* one = prompt;
  if (prompt->is_array() && !IsTokenArray(*prompt)) {
    if (prompt->size() != 1)
      throw InvalidField("prompt", "only one prompt per request is supported");
    one = &(*prompt)[0];
  }
  if (one->is_string()) {
    const std::string text = one->get<std::string>();
    if (text.empty()) throw InvalidField("prompt", "must not be empty");
    return Tokenize(backend, text, /*add_bos=*/true, /*parse_special=*/true, "prompt");
  }
  if (!IsTokenArray(*one))
    throw InvalidField("prompt", "must be a string or a non-empty array of token ids");
  std::vector<int32_t> ids;
  for (const nlohmann::json& x : *one) {
    const int64_t id = x.get<int64_t>();
    if (id < 0 || id >= backend.vocab_size)
      throw InvalidField("prompt", "token id " + std::to_string(id) + " is outside [0, " +
                                       std::to_string(backend.vocab_size) + ")");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace

CompletionCall ReadCompletionRequest(const std::string& text, const Backend& backend,
                                     const std::string& served_name) {
  const nlohmann::json json = ParseBody(text);
  const Fields body(json);
  CompletionCall call;
  ReadCommonFields(body, backend, served_name, &call.spec, &call.stream);
  if (body.Bool("echo").value_or(false)) throw InvalidField("echo", "is not supported");
  if (body.String("suffix")) throw InvalidField("suffix", "is not supported");
  if (auto v = body.Int("logprobs", 0, 20)) {
    call.logprobs = static_cast<int32_t>(*v);
    call.spec.logprobs = true;
    call.spec.sampling.top_logprobs = call.logprobs;
  }
  // OpenAI's default length for this endpoint.
  if (call.spec.max_tokens == 0) call.spec.max_tokens = 16;
  call.spec.prompt = ReadPrompt(body, backend);
  call.spec.prompt_field = "prompt";
  return call;
}

}  // namespace dsv32_server
