// A chat conversation as the encoder needs it, read from JSON text in the
// OpenAI chat-completions shape:
//   {"messages": [...], "tools": [...], "thinking": true,
//    "reasoning_retention": "drop" | "last" | "all", "drop_thinking": true}
// Every schema error names the JSON path of the bad field, e.g.
// "messages[2].tool_calls[0].function.arguments: ...".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace dsv32::chat {

enum class Role { kSystem, kDeveloper, kUser, kAssistant, kTool };

// What happens to `reasoning_content` of assistant turns that come before the
// last user message, in thinking mode. Reasoning after the last user message
// (the turn being generated, with its tool calls and results) is always kept.
enum class ReasoningRetention {
  kDrop,      // the reference's behaviour: earlier reasoning is left out
  kLastTurn,  // keep the reasoning of the turn just before the last user message
  kAll,       // keep the reasoning of every earlier turn
};

struct EncodeOptions {
  bool thinking = false;  // thinking mode ("<think>" opens the reply) or chat mode
  ReasoningRetention reasoning_retention = ReasoningRetention::kDrop;
  // The reference's drop step (its drop_thinking=true, the default) fails in
  // thinking mode when a developer message comes before the last user
  // message; true refuses such conversations the same way, false renders
  // them as the reference's drop_thinking=false does. Only read with kDrop.
  bool refuse_earlier_developer = true;
};

// One argument of a tool call, as the prompt writes it: strings as is,
// everything else as JSON text.
struct ToolCallArgument {
  std::string name;
  std::string value;
  bool is_string = false;
};

struct ToolCall {
  std::string name;
  std::vector<ToolCallArgument> arguments;
};

struct ChatMessage {
  Role role = Role::kUser;
  size_t source_index = 0;  // position in the request's `messages`, for error paths
  std::string content;
  std::string reasoning_content;
  std::vector<ToolCall> tool_calls;
  // Each tool's `function` object, already serialized as the prompt shows it.
  std::vector<std::string> tool_schemas;
  std::string response_format;  // serialized; empty when absent or falsy
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  EncodeOptions options;
};

// Parses and checks a request. Request-level `tools` become a system message
// at the front, holding only the tools, as serving stacks do for this model.
Result<ChatRequest> ParseChatRequest(std::string_view json_text);

std::string_view RoleName(Role role);

}  // namespace dsv32::chat
