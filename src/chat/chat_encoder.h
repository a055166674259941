// DeepSeek-V3.2's prompt format: turns a conversation into the exact text the
// model was trained on, byte for byte the output of DeepSeek's reference
// encoder (encoding_dsv32.py) for the reference's inputs. The text starts with
// the begin-of-sentence token and ends with "<｜Assistant｜>" plus "<think>"
// (thinking mode) or "</think>" (chat mode) when a reply is due.
#pragma once

#include <string>
#include <string_view>

#include "chat/chat_request.h"
#include "core/status.h"

namespace dsv32::chat {

// Where the reference would write Python artifacts or fail by accident, this
// encoder refuses with a clear error instead: user and tool content must be
// text (the reference writes "None" for a missing one), a tool message cannot
// open the conversation (the reference then inspects the last message), and an
// unknown role is refused even where the reference's drop step would have
// removed it silently. Tool-call arguments are re-serialized as Python does,
// except integers beyond 64 bits (written as floats) and NaN or Infinity
// (refused, as they are not JSON).

// Checks the conversation's order the way the reference does (tool results
// follow an assistant turn with enough tool calls; in thinking mode an
// assistant turn after the last user message has reasoning or tool calls;
// a developer message has text) and writes the prompt.
Result<std::string> EncodeChat(const ChatRequest& request);

// Parses a JSON request (see chat_request.h) and encodes it.
Result<std::string> EncodeChatJson(std::string_view json_text);

}  // namespace dsv32::chat
