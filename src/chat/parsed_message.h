// The assistant message a completion amounts to: what a non-streaming
// caller wants, made by folding the output parser's events together.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/output_parser.h"

namespace dsv32::chat {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // JSON text of the arguments object

  bool operator==(const ParsedToolCall&) const = default;
};

struct ParsedMessage {
  std::string reasoning_content;
  std::string content;
  std::vector<ParsedToolCall> tool_calls;  // only calls that were completed
  std::vector<std::string> errors;         // the error events' messages, in order
  std::string finish_reason;               // "stop", "end", or empty before Finish

  bool operator==(const ParsedMessage&) const = default;
};

// Folds events into a message. Tool calls that never reached their end event
// were abandoned; their text is already in `content`.
ParsedMessage AggregateEvents(const std::vector<OutputEvent>& events);

// Feeds the whole text at once and finishes: the one-shot parse.
ParsedMessage ParseCompletion(std::string_view text, OutputParserOptions options = {});

// The message as OpenAI-shaped JSON text:
// {"role": "assistant", "content": ..., "reasoning_content": ...,
//  "tool_calls": [{"type": "function", "function": {"name": ..., "arguments": ...}}]}
std::string ParsedMessageJson(const ParsedMessage& message);

}  // namespace dsv32::chat
