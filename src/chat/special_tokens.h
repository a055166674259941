// The literal strings DeepSeek-V3.2 uses to frame a conversation. The chat
// encoder writes them and the output parser looks for them, so both read them
// from here. They are text, not token ids: the tokenizer maps each special
// token's text to its id.
#pragma once

#include <string_view>

namespace dsv32::chat {

inline constexpr std::string_view kBeginOfSentence = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEndOfSentence = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kUserTag = "<｜User｜>";
inline constexpr std::string_view kAssistantTag = "<｜Assistant｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
// DSML ("DeepSeek markup language") wraps tool calls in XML-like tags whose
// names carry this prefix, e.g. "<｜DSML｜invoke name=...>".
inline constexpr std::string_view kDsml = "｜DSML｜";

// Tool-call markup, exactly as the model writes it.
inline constexpr std::string_view kFunctionCallsOpen = "<｜DSML｜function_calls";
inline constexpr std::string_view kFunctionCallsClose = "</｜DSML｜function_calls>";
inline constexpr std::string_view kInvokeOpen = "<｜DSML｜invoke";
inline constexpr std::string_view kInvokeClose = "</｜DSML｜invoke";
inline constexpr std::string_view kParameterOpen = "<｜DSML｜parameter";
inline constexpr std::string_view kParameterClose = "/｜DSML｜parameter";

// A tool-call block starts after a blank line; without it the markup is text.
inline constexpr std::string_view kToolCallsStart = "\n\n<｜DSML｜function_calls";

}  // namespace dsv32::chat
