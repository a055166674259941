// Reads a /v1/chat/completions body: messages, tools and response_format go
// to the chat encoder (dsv32_chat_encode), the prompt through the
// tokenizer, and the sampling fields into the generation's spec.
#pragma once

#include <string>

#include "generation.h"
#include "sampling_fields.h"

namespace dsv32_server {

struct ChatCall {
  GenerationSpec spec;
  StreamOptions stream;
  bool thinking = false;  // the prompt ends with "<think>": output opens with reasoning
  int32_t top_logprobs = 0;
};

// Throws ApiError naming the field at fault.
ChatCall ReadChatRequest(const std::string& body, const Backend& backend,
                         const std::string& served_name);

// The prompt's token ids; untrusted text may not forge markup only when
// parse_special is 0.
std::vector<int32_t> Tokenize(const Backend& backend, const std::string& text, bool add_bos,
                              bool parse_special, const char* param);

}  // namespace dsv32_server
