// Splits the model's reply text into reasoning, content and tool calls with
// the C API's streaming parser (dsv32_chat_parser_*), as deltas for
// streaming and as a whole message for the non-streaming reply.
#pragma once

#include <dsv32/dsv32.h>

#include <string>
#include <vector>

namespace dsv32_server {

struct ChatDelta {
  enum Kind { kReasoning, kContent, kToolStart, kToolArguments } kind;
  int tool_index = -1;
  std::string text;     // reasoning, content, the function name, or more arguments
  std::string call_id;  // with kToolStart
};

struct ToolCallOut {
  std::string id;
  std::string name;
  std::string arguments;
  bool abandoned = false;  // malformed output: its markup went out as content
};

class ChatOutput {
 public:
  explicit ChatOutput(bool thinking);
  ~ChatOutput();
  ChatOutput(const ChatOutput&) = delete;
  ChatOutput& operator=(const ChatOutput&) = delete;

  // Feeds reply text; returns the deltas it made certain.
  std::vector<ChatDelta> Feed(const std::string& text);
  // The reply ended: flushes what the parser held back.
  std::vector<ChatDelta> Finish();

  // The whole message so far.
  const std::string& reasoning() const { return reasoning_; }
  const std::string& content() const { return content_; }
  std::vector<ToolCallOut> tool_calls() const;

 private:
  std::vector<ChatDelta> Drain();

  dsv32_chat_parser* parser_ = nullptr;
  std::string reasoning_;
  std::string content_;
  std::vector<ToolCallOut> tool_calls_;
};

// `n` random letters and digits, for response and tool call ids.
std::string RandomAlnum(size_t n);
// "call_" and 24 random letters and digits, as OpenAI's tool call ids look.
std::string NewCallId();

}  // namespace dsv32_server
