#include "chat/chat_encoder.h"

#include <gtest/gtest.h>

#include "chat/special_tokens.h"
#include "golden_lines.h"

namespace dsv32::chat {
namespace {

void ExpectGoldens(const std::string& file, size_t at_least) {
  const auto cases = ReadGoldenLines(file);
  ASSERT_GE(cases.size(), at_least);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(file + " line " + std::to_string(i + 1));
    const Result<std::string> prompt = EncodeChatJson(cases[i].text);
    if (cases[i].json.contains("error")) {
      EXPECT_FALSE(prompt.ok()) << "the reference refused this: "
                                << cases[i].json["error"].get<std::string>();
      continue;
    }
    ASSERT_TRUE(prompt.ok()) << prompt.status().message();
    EXPECT_EQ(prompt.value(), cases[i].json["prompt"].get<std::string>());
  }
}

TEST(ChatEncoderTest, MatchesEveryReferenceGolden) { ExpectGoldens("cases.jsonl", 30); }

TEST(ChatEncoderTest, MatchesEveryGeneratedReferenceGolden) {
  ExpectGoldens("more_cases.jsonl", 40);
}

std::string Encode(const std::string& request) {
  Result<std::string> prompt = EncodeChatJson(request);
  EXPECT_TRUE(prompt.ok()) << prompt.status().message();
  return prompt.ok() ? prompt.value() : "";
}

std::string Status(const std::string& request) {
  Result<std::string> prompt = EncodeChatJson(request);
  EXPECT_FALSE(prompt.ok());
  return prompt.ok() ? "" : prompt.status().message();
}

const char* kThreeTurns = R"("messages": [
  {"role": "system", "content": "S"},
  {"role": "user", "content": "A"},
  {"role": "assistant", "content": "c1", "reasoning_content": "r1"},
  {"role": "user", "content": "B"},
  {"role": "assistant", "content": "c2", "reasoning_content": "r2"},
  {"role": "user", "content": "C"}])";

std::string ThreeTurns(const std::string& options) {
  return Encode(std::string("{") + kThreeTurns + ", " + options + "}");
}

TEST(ChatEncoderTest, RetentionDropIsTheDefault) {
  const std::string expected =
      "<｜begin▁of▁sentence｜>S<｜User｜>A<｜Assistant｜></think>c1<｜end▁of▁sentence｜>"
      "<｜User｜>B<｜Assistant｜></think>c2<｜end▁of▁sentence｜>"
      "<｜User｜>C<｜Assistant｜><think>";
  EXPECT_EQ(ThreeTurns(R"("thinking": true)"), expected);
  EXPECT_EQ(ThreeTurns(R"("thinking": true, "reasoning_retention": "drop")"), expected);
  EXPECT_EQ(ThreeTurns(R"("thinking": true, "drop_thinking": true)"), expected);
}

TEST(ChatEncoderTest, RetentionLastKeepsTheTurnBeforeTheLastUserMessage) {
  EXPECT_EQ(ThreeTurns(R"("thinking": true, "reasoning_retention": "last")"),
            "<｜begin▁of▁sentence｜>S<｜User｜>A<｜Assistant｜></think>c1<｜end▁of▁sentence｜>"
            "<｜User｜>B<｜Assistant｜><think>r2</think>c2<｜end▁of▁sentence｜>"
            "<｜User｜>C<｜Assistant｜><think>");
}

TEST(ChatEncoderTest, RetentionAllKeepsEveryTurn) {
  EXPECT_EQ(ThreeTurns(R"("thinking": true, "reasoning_retention": "all")"),
            "<｜begin▁of▁sentence｜>S<｜User｜>A<｜Assistant｜><think>r1</think>c1"
            "<｜end▁of▁sentence｜><｜User｜>B<｜Assistant｜><think>r2</think>c2"
            "<｜end▁of▁sentence｜><｜User｜>C<｜Assistant｜><think>");
}

TEST(ChatEncoderTest, ChatModeNeverShowsReasoning) {
  const std::string expected =
      "<｜begin▁of▁sentence｜>S<｜User｜>A<｜Assistant｜></think>c1<｜end▁of▁sentence｜>"
      "<｜User｜>B<｜Assistant｜></think>c2<｜end▁of▁sentence｜>"
      "<｜User｜>C<｜Assistant｜></think>";
  EXPECT_EQ(ThreeTurns(R"("thinking": false, "reasoning_retention": "all")"), expected);
  EXPECT_EQ(ThreeTurns(R"("reasoning_retention": "drop")"), expected);
}

TEST(ChatEncoderTest, RetainedTurnsKeepReasoningAroundToolResults) {
  const std::string prompt = Encode(R"({"thinking": true, "reasoning_retention": "all",
    "messages": [
      {"role": "user", "content": "A"},
      {"role": "assistant", "content": "", "reasoning_content": "r1",
       "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "content": "out"},
      {"role": "assistant", "content": "c1", "reasoning_content": "r2"},
      {"role": "user", "content": "B"}]})");
  EXPECT_EQ(prompt,
            "<｜begin▁of▁sentence｜><｜User｜>A<｜Assistant｜><think>r1</think>\n\n"
            "<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n"
            "</｜DSML｜function_calls><｜end▁of▁sentence｜>\n\n<function_results>\n"
            "<result>out</result>\n</function_results>\n\n<think>r2</think>c1"
            "<｜end▁of▁sentence｜><｜User｜>B<｜Assistant｜><think>");
}

TEST(ChatEncoderTest, DropRefusesEarlierDeveloperMessagesInThinkingMode) {
  const std::string messages = R"("messages": [
      {"role": "developer", "content": "D"},
      {"role": "assistant", "content": "c", "reasoning_content": "r"},
      {"role": "user", "content": "U"}])";
  EXPECT_EQ(Status("{" + messages + R"(, "thinking": true})"),
            "messages[0]: in thinking mode with reasoning_retention \"drop\" a developer "
            "message must not come before the last user message (the reference encoder fails "
            "on it); use \"last\", \"all\", or drop_thinking false");
  const std::string kept =
      "<｜begin▁of▁sentence｜><｜User｜>\n\n# The user's message is: D<｜Assistant｜></think>"
      "c<｜end▁of▁sentence｜><｜User｜>U<｜Assistant｜><think>";
  EXPECT_EQ(Encode("{" + messages + R"(, "thinking": true, "drop_thinking": false})"), kept);
  // "last" keeps the developer message and, it being a user turn, the
  // reasoning of the reply to it.
  EXPECT_EQ(Encode("{" + messages + R"(, "thinking": true, "reasoning_retention": "last"})"),
            "<｜begin▁of▁sentence｜><｜User｜>\n\n# The user's message is: D<｜Assistant｜><think>"
            "r</think>c<｜end▁of▁sentence｜><｜User｜>U<｜Assistant｜><think>");
}

TEST(ChatEncoderTest, RequestToolsBecomeALeadingSystemMessage) {
  // Same conversation as cases.jsonl line 16, with the tools given at the top.
  const auto cases = ReadGoldenLines("cases.jsonl");
  auto golden = cases[15].json;
  ASSERT_EQ(golden["messages"][0]["role"], "system");
  ASSERT_EQ(golden["messages"][0]["content"], "");
  auto request = golden;
  request["tools"] = golden["messages"][0]["tools"];
  request["messages"].erase(0);
  EXPECT_EQ(Encode(request.dump()), golden["prompt"].get<std::string>());
}

TEST(ChatEncoderTest, ToolCallArgumentsKeepTheirOrderAndPythonFormatting) {
  const std::string prompt = Encode(R"({"messages": [
      {"role": "user", "content": "go"},
      {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
        {"name": "f", "arguments": "{\"z\": 1e-5, \"a\": \"x\\ny\", \"m\": {\"k\": \"é\"}, \"n\": null}"}}]}]})");
  EXPECT_NE(prompt.find("<｜DSML｜parameter name=\"z\" string=\"false\">1e-05</｜DSML｜parameter>\n"
                        "<｜DSML｜parameter name=\"a\" string=\"true\">x\ny</｜DSML｜parameter>\n"
                        "<｜DSML｜parameter name=\"m\" string=\"false\">{\"k\": \"é\"}"
                        "</｜DSML｜parameter>\n"
                        "<｜DSML｜parameter name=\"n\" string=\"false\">null</｜DSML｜parameter>"),
            std::string::npos)
      << prompt;
}

TEST(ChatEncoderTest, ChecksConversationOrderLikeTheReference) {
  EXPECT_EQ(Status(R"({"messages": [{"role": "user", "content": "x"},
      {"role": "tool", "content": "y"}]})"),
            "messages[1]: a tool result must follow an assistant message with tool_calls");
  EXPECT_EQ(Status(R"({"messages": [{"role": "user", "content": "x"},
      {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"}]})"),
            "messages[3]: tool result 2 but messages[1] has 1 tool calls");
  EXPECT_EQ(Status(R"({"thinking": true, "messages": [{"role": "user", "content": "x"},
      {"role": "assistant", "content": "y"}]})"),
            "messages[1]: in thinking mode an assistant message after the last user message "
            "needs reasoning_content or tool_calls");
  EXPECT_EQ(Status(R"({"messages": [{"role": "developer", "content": ""}]})"),
            "messages[0].content: a developer message needs text");
  // The same assistant message is fine in chat mode.
  EXPECT_EQ(Encode(R"({"messages": [{"role": "user", "content": "x"},
      {"role": "assistant", "content": "y"}]})"),
            "<｜begin▁of▁sentence｜><｜User｜>x<｜Assistant｜></think>y<｜end▁of▁sentence｜>");
}

TEST(ChatEncoderTest, EmptyConversationIsJustTheBeginToken) {
  EXPECT_EQ(Encode(R"({"messages": []})"), std::string(kBeginOfSentence));
}

}  // namespace
}  // namespace dsv32::chat
