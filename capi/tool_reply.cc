#include "tool_reply.h"

#include <nlohmann/json.hpp>

#include "chat/chat_encoder.h"
#include "chat/special_tokens.h"
#include "chat/tool_call_grammar.h"

namespace dsv32::capi {

namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Whether the prompt's last tokens spell "<think>" (one added token, or
// BPE pieces in tokenizers without it).
bool PromptOpensReasoning(const dsv32_request_params& p, const Tokenizer& tokenizer) {
  std::string tail;
  for (size_t i = p.n_prompt; i > 0 && p.n_prompt - i < chat::kThinkStart.size(); --i) {
    auto bytes = tokenizer.TokenBytes(p.prompt[i - 1]);
    if (!bytes.ok()) return false;
    tail.insert(0, bytes.value());
    if (tail.size() >= chat::kThinkStart.size()) break;
  }
  return EndsWith(tail, chat::kThinkStart);
}

}  // namespace

Result<bool> OpensWithReasoning(const dsv32_request_params& p, const Tokenizer& tokenizer) {
  if (!p.chat_request) return PromptOpensReasoning(p, tokenizer);
  DSV32_ASSIGN_OR_RETURN(std::string prompt, chat::EncodeChatJson(p.chat_request));
  return EndsWith(prompt, chat::kThinkStart);
}

Result<std::optional<ToolReply>> ReadToolReply(const dsv32_request_params& p,
                                               const Tokenizer* tokenizer) {
  ToolReply reply;
  if (p.tools) {
    reply.tools = p.tools;
    reply.tool_choice = p.tool_choice ? p.tool_choice : "\"auto\"";
  } else if (p.tool_choice) {
    return InvalidArgument("tool_choice needs tools");
  } else if (p.chat_request && !p.chat_tools_unconstrained) {
    // Ordered, so that the parameters keep their declared order.
    const auto request = nlohmann::ordered_json::parse(p.chat_request, nullptr, false);
    // A malformed request is the chat encoder's to report.
    if (!request.is_object() || !request.contains("tools") || request["tools"].is_null())
      return std::optional<ToolReply>();
    reply.tools = request["tools"].dump();
    reply.tool_choice =
        request.contains("tool_choice") ? request["tool_choice"].dump() : "\"auto\"";
  } else {
    return std::optional<ToolReply>();
  }
  DSV32_ASSIGN_OR_RETURN(chat::ToolChoice choice, chat::ParseToolChoice(reply.tool_choice));
  if (choice.kind == chat::ToolChoice::Kind::kNone) return std::optional<ToolReply>();
  // "auto" over no tools is a reply without calls: nothing to hold it to.
  if (const auto tools = nlohmann::ordered_json::parse(reply.tools, nullptr, false);
      choice.kind == chat::ToolChoice::Kind::kAuto && tools.is_array() && tools.empty())
    return std::optional<ToolReply>();
  if (p.regex) return InvalidArgument("tools cannot be combined with regex");
  if (!tokenizer) return InvalidArgument("tools need the tokenizer");
  DSV32_ASSIGN_OR_RETURN(reply.thinking, OpensWithReasoning(p, *tokenizer));
  return std::optional<ToolReply>(std::move(reply));
}

}  // namespace dsv32::capi
