// Pieces of the JSON replies both generating endpoints build: usage,
// finish_reason, logprobs, ids.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generation.h"

namespace dsv32_server {

nlohmann::json UsageJson(int64_t prompt_tokens, int64_t completion_tokens);

// "stop", "length" or "tool_calls"; null for a stream that has not ended.
nlohmann::json FinishReasonJson(Finish finish, bool tool_calls);

// A token's text as the tokenizer decodes it alone.
std::string TokenText(const Backend& backend, int32_t token);

// Chat logprobs entries, one per token:
// {"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}.
nlohmann::json ChatLogprobs(const Backend& backend, const std::vector<TokenInfo>& tokens,
                            int32_t top_logprobs);

// Completions logprobs: {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
// text_offset counts from `offset`, which is advanced.
nlohmann::json CompletionLogprobs(const Backend& backend, const std::vector<TokenInfo>& tokens,
                                  int32_t top_logprobs, size_t* offset);

// Seconds since the epoch, for "created".
int64_t UnixSeconds();

}  // namespace dsv32_server

namespace dsv32_server {

// JSON text of a reply; text that is not valid UTF-8 (a token alone can end
// inside a character) is written with U+FFFD instead of failing.
std::string Dump(const nlohmann::json& value);

}  // namespace dsv32_server
