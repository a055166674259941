#include "chat/chat_encoder.h"

#include "chat/special_tokens.h"

namespace dsv32::chat {

namespace {

constexpr std::string_view kToolsPreamble =
    "## Tools\n"
    "You have access to a set of tools you can use to answer the user's question.\n"
    "You can invoke functions by writing a \"<｜DSML｜function_calls>\" block like the "
    "following as part of your reply to the user:\n"
    "<｜DSML｜function_calls>\n"
    "<｜DSML｜invoke name=\"$FUNCTION_NAME\">\n"
    "<｜DSML｜parameter name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE"
    "</｜DSML｜parameter>\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"$FUNCTION_NAME2\">\n"
    "...\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜function_calls>\n"
    "String and scalar parameters should be specified as is without any escaping or "
    "quotes, while lists and objects should use JSON format. The \"string\" attribute "
    "should be set to \"true\" for string type parameters and \"false\" for other types "
    "(numbers, booleans, arrays, objects).\n"
    "If the thinking_mode is enabled, then after function results you should strongly "
    "consider outputting a thinking block. Here is an example:\n"
    "<｜DSML｜function_calls>\n"
    "...\n"
    "</｜DSML｜function_calls>\n"
    "<function_results>\n"
    "...\n"
    "</function_results>\n"
    "<think>...thinking about results</think>\n"
    "Here are the functions available in JSONSchema format:\n"
    "<functions>\n";

constexpr std::string_view kResponseFormatPreamble =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

bool IsUserLike(Role role) { return role == Role::kUser || role == Role::kDeveloper; }

std::string Path(const ChatMessage& m) {
  return "messages[" + std::to_string(m.source_index) + "]";
}

void AppendTools(const std::vector<std::string>& schemas, std::string* out) {
  out->append("\n\n");
  out->append(kToolsPreamble);
  for (size_t i = 0; i < schemas.size(); ++i) {
    if (i > 0) out->push_back('\n');
    out->append(schemas[i]);
  }
  out->append("\n</functions>\n");
}

void AppendResponseFormat(const ChatMessage& m, std::string* out) {
  if (m.response_format.empty()) return;
  out->append("\n\n");
  out->append(kResponseFormatPreamble);
  out->append(m.response_format);
}

void AppendToolCalls(const std::vector<ToolCall>& calls, std::string* out) {
  out->append("\n\n<｜DSML｜function_calls>\n");
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0) out->push_back('\n');
    out->append("<｜DSML｜invoke name=\"" + calls[i].name + "\">\n");
    for (size_t j = 0; j < calls[i].arguments.size(); ++j) {
      const ToolCallArgument& arg = calls[i].arguments[j];
      if (j > 0) out->push_back('\n');
      out->append("<｜DSML｜parameter name=\"" + arg.name + "\" string=\"" +
                  (arg.is_string ? "true" : "false") + "\">" + arg.value + "</｜DSML｜parameter>");
    }
    out->append("\n</｜DSML｜invoke>");
  }
  out->append("\n</｜DSML｜function_calls>");
}

class PromptWriter {
 public:
  PromptWriter(const std::vector<ChatMessage>& messages, const EncodeOptions& options)
      : messages_(messages), options_(options), thinking_(options.thinking) {
    const int n = static_cast<int>(messages_.size());
    for (int i = n - 1; i >= 0; --i)
      if (IsUserLike(messages_[i].role)) {
        last_user_ = i;
        break;
      }
    // Assistant turns after index `keep_after_` show their reasoning.
    keep_after_ = last_user_;
    if (options.reasoning_retention == ReasoningRetention::kAll) {
      keep_after_ = -1;
    } else if (options.reasoning_retention == ReasoningRetention::kLastTurn) {
      keep_after_ = -1;
      for (int i = last_user_ - 1; i >= 0; --i)
        if (IsUserLike(messages_[i].role)) {
          keep_after_ = i;
          break;
        }
    }
  }

  Result<std::string> Write() {
    // The reference drops such developer messages from its list but still
    // renders as many messages as it was given, and fails.
    if (thinking_ && options_.reasoning_retention == ReasoningRetention::kDrop &&
        options_.refuse_earlier_developer)
      for (int i = 0; i < last_user_; ++i)
        if (messages_[i].role == Role::kDeveloper)
          return InvalidArgument(
              Path(messages_[i]) +
              ": in thinking mode with reasoning_retention \"drop\" a developer message "
              "must not come before the last user message (the reference encoder fails on "
              "it); use \"last\", \"all\", or drop_thinking false");
    std::string out(kBeginOfSentence);
    for (int i = 0; i < static_cast<int>(messages_.size()); ++i)
      DSV32_RETURN_IF_ERROR(WriteMessage(i, &out));
    return out;
  }

 private:
  // Whether the reply that follows message `i` opens with its reasoning.
  bool ReasoningFollows(int i) const { return thinking_ && i >= keep_after_; }

  void OpenReply(int i, std::string* out) const {
    out->append(ReasoningFollows(i) ? kThinkStart : kThinkEnd);
  }

  Status WriteMessage(int i, std::string* out) const {
    const ChatMessage& m = messages_[i];
    switch (m.role) {
      case Role::kSystem:
        out->append(m.content);
        if (!m.tool_schemas.empty()) AppendTools(m.tool_schemas, out);
        AppendResponseFormat(m, out);
        return Status::Ok();
      case Role::kDeveloper:
        if (m.content.empty())
          return InvalidArgument(Path(m) + ".content: a developer message needs text");
        out->append(kUserTag);
        if (!m.tool_schemas.empty()) AppendTools(m.tool_schemas, out);
        AppendResponseFormat(m, out);
        out->append("\n\n# The user's message is: ");
        out->append(m.content);
        out->append(kAssistantTag);
        OpenReply(i, out);
        return Status::Ok();
      case Role::kUser:
        out->append(kUserTag);
        out->append(m.content);
        out->append(kAssistantTag);
        OpenReply(i, out);
        return Status::Ok();
      case Role::kTool: return WriteToolResult(i, out);
      case Role::kAssistant: return WriteAssistant(i, out);
    }
    return Internal("unknown role");
  }

  Status WriteToolResult(int i, std::string* out) const {
    const ChatMessage& m = messages_[i];
    int owner = i - 1;
    while (owner >= 0 && messages_[owner].role == Role::kTool) --owner;
    if (owner < 0 || messages_[owner].role != Role::kAssistant)
      return InvalidArgument(Path(m) +
                             ": a tool result must follow an assistant message with tool_calls");
    const size_t order = static_cast<size_t>(i - owner);  // 1 for the first result
    const size_t calls = messages_[owner].tool_calls.size();
    if (calls < order)
      return InvalidArgument(Path(m) + ": tool result " + std::to_string(order) + " but " +
                             Path(messages_[owner]) + " has " + std::to_string(calls) +
                             " tool calls");
    if (order == 1) out->append("\n\n<function_results>");
    out->append("\n<result>");
    out->append(m.content);
    out->append("</result>");
    if (order == calls) {
      out->append("\n</function_results>\n\n");
      OpenReply(i, out);
    }
    return Status::Ok();
  }

  Status WriteAssistant(int i, std::string* out) const {
    const ChatMessage& m = messages_[i];
    if (thinking_ && i > last_user_ && m.reasoning_content.empty() && m.tool_calls.empty())
      return InvalidArgument(Path(m) +
                             ": in thinking mode an assistant message after the last user "
                             "message needs reasoning_content or tool_calls");
    if (thinking_ && i > keep_after_) {
      out->append(m.reasoning_content);
      out->append(kThinkEnd);
    }
    out->append(m.content);
    if (!m.tool_calls.empty()) AppendToolCalls(m.tool_calls, out);
    out->append(kEndOfSentence);
    return Status::Ok();
  }

  const std::vector<ChatMessage>& messages_;
  const EncodeOptions& options_;
  bool thinking_;
  int last_user_ = -1;
  int keep_after_ = -1;
};

}  // namespace

Result<std::string> EncodeChat(const ChatRequest& request) {
  return PromptWriter(request.messages, request.options).Write();
}

Result<std::string> EncodeChatJson(std::string_view json_text) {
  DSV32_ASSIGN_OR_RETURN(ChatRequest request, ParseChatRequest(json_text));
  return EncodeChat(request);
}

}  // namespace dsv32::chat
