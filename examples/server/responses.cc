#include "responses.h"

#include <chrono>

namespace dsv32_server {

namespace {

nlohmann::json Bytes(const std::string& text) {
  nlohmann::json bytes = nlohmann::json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

nlohmann::json LogprobEntry(const Backend& backend, int32_t token, float logprob) {
  const std::string text = TokenText(backend, token);
  return {{"token", text}, {"logprob", logprob}, {"bytes", Bytes(text)}};
}

}  // namespace

nlohmann::json UsageJson(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

nlohmann::json FinishReasonJson(Finish finish, bool tool_calls) {
  switch (finish) {
    case Finish::kStop:
      return tool_calls ? "tool_calls" : "stop";
    case Finish::kLength:
      return "length";
    default:
      return nullptr;
  }
}

std::string TokenText(const Backend& backend, int32_t token) {
  char buffer[256];
  size_t length = 0;
  if (dsv32_tokenizer_decode(backend.tokenizer, &token, 1, 0, buffer, sizeof buffer, &length) !=
      DSV32_OK)
    return {};
  if (length < sizeof buffer) return std::string(buffer, length);
  std::string text(length + 1, '\0');
  dsv32_tokenizer_decode(backend.tokenizer, &token, 1, 0, text.data(), text.size(), &length);
  text.resize(length);
  return text;
}

nlohmann::json ChatLogprobs(const Backend& backend, const std::vector<TokenInfo>& tokens,
                            int32_t top_logprobs) {
  nlohmann::json out = nlohmann::json::array();
  for (const TokenInfo& t : tokens) {
    nlohmann::json entry = LogprobEntry(backend, t.token, t.logprob);
    nlohmann::json top = nlohmann::json::array();
    for (size_t i = 0; i < t.top.size() && static_cast<int32_t>(i) < top_logprobs; ++i)
      top.push_back(LogprobEntry(backend, t.top[i].token, t.top[i].logprob));
    entry["top_logprobs"] = std::move(top);
    out.push_back(std::move(entry));
  }
  return out;
}

nlohmann::json CompletionLogprobs(const Backend& backend, const std::vector<TokenInfo>& tokens,
                                  int32_t top_logprobs, size_t* offset) {
  nlohmann::json out = {{"tokens", nlohmann::json::array()},
                        {"token_logprobs", nlohmann::json::array()},
                        {"top_logprobs", nlohmann::json::array()},
                        {"text_offset", nlohmann::json::array()}};
  for (const TokenInfo& t : tokens) {
    const std::string text = TokenText(backend, t.token);
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(t.logprob);
    nlohmann::json top = nlohmann::json::object();
    for (size_t i = 0; i < t.top.size() && static_cast<int32_t>(i) < top_logprobs; ++i)
      top[TokenText(backend, t.top[i].token)] = t.top[i].logprob;
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(*offset);
    *offset += text.size();
  }
  return out;
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dsv32_server

namespace dsv32_server {

std::string Dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dsv32_server
