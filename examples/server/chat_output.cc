#include "chat_output.h"

#include <cstdio>
#include <random>

#include "api_error.h"

namespace dsv32_server {

std::string RandomAlnum(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> pick(0, sizeof kChars - 2);
  std::string out(n, ' ');
  for (char& c : out) c = kChars[pick(rng)];
  return out;
}

std::string NewCallId() { return "call_" + RandomAlnum(24); }

ChatOutput::ChatOutput(bool thinking) {
  dsv32_chat_parser_params params = dsv32_chat_parser_default_params();
  params.thinking = thinking ? 1 : 0;
  if (dsv32_chat_parser_create(&params, &parser_) != DSV32_OK)
    throw ApiError(500, std::string("chat parser: ") + dsv32_last_error());
}

ChatOutput::~ChatOutput() { dsv32_chat_parser_free(parser_); }

std::vector<ChatDelta> ChatOutput::Feed(const std::string& text) {
  if (!text.empty()) dsv32_chat_parser_feed(parser_, text.data(), text.size());
  return Drain();
}

std::vector<ChatDelta> ChatOutput::Finish() {
  dsv32_chat_parser_finish(parser_);
  return Drain();
}

std::vector<ToolCallOut> ChatOutput::tool_calls() const {
  std::vector<ToolCallOut> out;
  for (const ToolCallOut& call : tool_calls_)
    if (!call.abandoned) out.push_back(call);
  return out;
}

std::vector<ChatDelta> ChatOutput::Drain() {
  std::vector<ChatDelta> out;
  dsv32_chat_event e{};
  e.struct_size = sizeof e;
  int32_t has = 0;
  while (dsv32_chat_parser_next(parser_, &e, &has) == DSV32_OK && has) {
    std::string text(e.text ? e.text : "", e.text ? e.text_length : 0);
    switch (e.type) {
      case DSV32_CHAT_REASONING_DELTA:
        reasoning_ += text;
        out.push_back({ChatDelta::kReasoning, -1, std::move(text), {}});
        break;
      case DSV32_CHAT_CONTENT_DELTA:
        content_ += text;
        out.push_back({ChatDelta::kContent, -1, std::move(text), {}});
        break;
      case DSV32_CHAT_TOOL_CALL_START: {
        ToolCallOut call{NewCallId(), text, {}};
        tool_calls_.push_back(call);
        out.push_back({ChatDelta::kToolStart, e.tool_index, std::move(text), call.id});
        break;
      }
      case DSV32_CHAT_TOOL_CALL_ARGUMENTS:
        if (e.tool_index >= 0 && static_cast<size_t>(e.tool_index) < tool_calls_.size())
          tool_calls_[e.tool_index].arguments += text;
        out.push_back({ChatDelta::kToolArguments, e.tool_index, std::move(text), {}});
        break;
      case DSV32_CHAT_ERROR:
        // Malformed output: the parser passes its text on as content, so the
        // reply loses nothing; the server's log says what was wrong.
        if (e.tool_index >= 0 && static_cast<size_t>(e.tool_index) < tool_calls_.size())
          tool_calls_[e.tool_index].abandoned = true;
        std::fprintf(stderr, "dsv32-server: model output: %s\n", text.c_str());
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace dsv32_server
