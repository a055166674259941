// Which tool-call reply a request's output is held to (dsv32.h, the
// `tools` fields of dsv32_request_params): the request's own fields, else a
// chat request's "tools" and "tool_choice".
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "dsv32/dsv32.h"
#include "text/tokenizer.h"

namespace dsv32::capi {

struct ToolReply {
  std::string tools;        // the JSON array
  std::string tool_choice;  // JSON text, never "none"
  bool thinking = false;    // the prompt ends with "<think>"
};

// Whether the request's reply opens with reasoning: its prompt (or a chat
// request's encoded prompt) ends with "<think>".
Result<bool> OpensWithReasoning(const dsv32_request_params& p, const Tokenizer& tokenizer);

// nullopt when the output is not held to tool calls (no tools, "none", or
// a chat request that opts out).
Result<std::optional<ToolReply>> ReadToolReply(const dsv32_request_params& p,
                                               const Tokenizer* tokenizer);

}  // namespace dsv32::capi
