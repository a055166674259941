#include "chat/parsed_message.h"

#include <map>

#include "chat/python_json.h"

namespace dsv32::chat {

ParsedMessage AggregateEvents(const std::vector<OutputEvent>& events) {
  ParsedMessage message;
  // Calls by index, kept apart until their end event commits them.
  std::map<int, ParsedToolCall> open;
  for (const OutputEvent& e : events) {
    switch (e.type) {
      case OutputEventType::kReasoningDelta: message.reasoning_content += e.text; break;
      case OutputEventType::kContentDelta: message.content += e.text; break;
      case OutputEventType::kToolCallStart: open[e.tool_index] = {e.text, ""}; break;
      case OutputEventType::kToolCallArgumentsDelta: open[e.tool_index].arguments += e.text; break;
      case OutputEventType::kToolCallEnd: {
        auto it = open.find(e.tool_index);
        if (it != open.end()) {
          message.tool_calls.push_back(std::move(it->second));
          open.erase(it);
        }
        break;
      }
      case OutputEventType::kError:
        message.errors.push_back(e.text);
        if (e.tool_index >= 0) open.erase(e.tool_index);
        break;
      case OutputEventType::kFinish: message.finish_reason = e.text; break;
    }
  }
  return message;
}

ParsedMessage ParseCompletion(std::string_view text, OutputParserOptions options) {
  OutputParser parser(options);
  std::vector<OutputEvent> events = parser.Feed(text);
  std::vector<OutputEvent> tail = parser.Finish();
  events.insert(events.end(), tail.begin(), tail.end());
  return AggregateEvents(events);
}

std::string ParsedMessageJson(const ParsedMessage& message) {
  OrderedJson calls = OrderedJson::array();
  for (const ParsedToolCall& call : message.tool_calls)
    calls.push_back(
        {{"type", "function"}, {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
  const OrderedJson json = {{"role", "assistant"},
                            {"content", message.content},
                            {"reasoning_content", message.reasoning_content},
                            {"tool_calls", std::move(calls)}};
  // Model output need not be valid UTF-8; bad bytes become U+FFFD here
  // rather than failing the whole message.
  return json.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

}  // namespace dsv32::chat
