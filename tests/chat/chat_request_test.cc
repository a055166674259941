#include "chat/chat_request.h"

#include <gtest/gtest.h>

namespace dsv32::chat {
namespace {

std::string ErrorOf(const std::string& request) {
  Result<ChatRequest> parsed = ParseChatRequest(request);
  EXPECT_FALSE(parsed.ok()) << request;
  return parsed.ok() ? "" : parsed.status().message();
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(ChatRequestTest, ErrorsNameTheJsonPath) {
  const std::string error = ErrorOf(R"({"messages": [
      {"role": "user", "content": "a"},
      {"role": "user", "content": "b"},
      {"role": "assistant", "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": "{not json"}}]}]})");
  EXPECT_TRUE(StartsWith(error, "messages[2].tool_calls[0].function.arguments: not valid JSON"))
      << error;

  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "assistant", "tool_calls": [{"function":
      {"name": "f", "arguments": "[1, 2]"}}]}]})"),
            "messages[0].tool_calls[0].function.arguments: must be a JSON object, got an array");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "assistant", "tool_calls": [{"function":
      {"name": "f", "arguments": {"a": 1}}}]}]})"),
            "messages[0].tool_calls[0].function.arguments: must be a string holding a JSON "
            "object, got an object");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "assistant", "tool_calls": [{"function":
      {"arguments": "{}"}}]}]})"),
            "messages[0].tool_calls[0].function.name: missing");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"content": "x"}]})"), "messages[0].role: missing");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "wizard", "content": "x"}]})"),
            "messages[0].role: unknown role 'wizard' (expected system, developer, user, "
            "assistant or tool)");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "user"}]})"),
            "messages[0].content: missing; a user message needs text");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "user", "content": 5}]})"),
            "messages[0].content: must be a string, got a number");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
            "messages[0].content[0].type: only \"text\" parts are supported");
  EXPECT_EQ(ErrorOf(R"({"messages": [{"role": "system", "tools": [{"type": "function"}]}]})"),
            "messages[0].tools[0].function: missing");
  EXPECT_EQ(ErrorOf(R"({"tools": {}, "messages": []})"), "tools: must be an array, got an object");
  EXPECT_EQ(ErrorOf(R"({"messages": {}})"), "messages: must be an array, got an object");
  EXPECT_EQ(ErrorOf(R"({})"), "messages: missing");
  EXPECT_EQ(ErrorOf(R"([])"), "request: must be an object, got an array");
  EXPECT_EQ(ErrorOf(R"({"messages": [], "thinking": "yes"})"),
            "thinking: must be true or false, got a string");
  EXPECT_EQ(ErrorOf(R"({"messages": [], "reasoning_retention": "some"})"),
            "reasoning_retention: unknown value 'some' (expected drop, last or all)");
  EXPECT_EQ(ErrorOf(R"({"messages": [], "reasoning_retention": "all", "drop_thinking": true})"),
            "drop_thinking: give either reasoning_retention or drop_thinking, not both");
  EXPECT_TRUE(StartsWith(ErrorOf(R"({"messages": [)"), "request: not valid JSON"));
  EXPECT_TRUE(StartsWith(ErrorOf("{\"messages\": [\"\xff\"]}"), "request: not valid JSON"));
}

TEST(ChatRequestTest, RefusesDeepNestingWithoutCrashing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_TRUE(
      StartsWith(ErrorOf(R"({"messages": [], "x": )" + deep + "}"), "request: nested deeper than"));
}

TEST(ChatRequestTest, ReadsOptionsAndContentParts) {
  Result<ChatRequest> r = ParseChatRequest(R"({"thinking": true, "reasoning_retention": "last",
      "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                {"type": "text", "text": "b"}]},
                   {"role": "assistant", "content": null, "reasoning_content": "r"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->options.thinking);
  EXPECT_EQ(r->options.reasoning_retention, ReasoningRetention::kLastTurn);
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[0].content, "a\nb");
  EXPECT_EQ(r->messages[1].content, "");
  EXPECT_EQ(r->messages[1].reasoning_content, "r");

  Result<ChatRequest> d = ParseChatRequest(R"({"messages": [], "drop_thinking": false})");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->options.thinking);
  EXPECT_EQ(d->options.reasoning_retention, ReasoningRetention::kDrop);
  EXPECT_FALSE(d->options.refuse_earlier_developer);
}

}  // namespace
}  // namespace dsv32::chat
