#include "chat/output_parser.h"

#include <gtest/gtest.h>

#include <random>

#include "chat/chat_encoder.h"
#include "chat/parsed_message.h"
#include "chat/special_tokens.h"
#include "golden_lines.h"

namespace dsv32::chat {

void PrintTo(const ParsedMessage& m, std::ostream* os) {
  *os << "{reasoning: \"" << m.reasoning_content << "\", content: \"" << m.content
      << "\", tool_calls:";
  for (const auto& c : m.tool_calls) *os << " " << c.name << c.arguments;
  *os << ", errors:";
  for (const auto& e : m.errors) *os << " [" << e << "]";
  *os << ", finish: " << m.finish_reason << "}";
}

namespace {

// Feeds `text` in pieces whose ends are `cuts` (ascending offsets).
std::vector<OutputEvent> FeedInPieces(std::string_view text, const std::vector<size_t>& cuts,
                                      bool thinking) {
  OutputParser parser({.thinking = thinking});
  std::vector<OutputEvent> events;
  size_t from = 0;
  for (size_t cut : cuts) {
    auto e = parser.Feed(text.substr(from, cut - from));
    events.insert(events.end(), e.begin(), e.end());
    from = cut;
  }
  auto e = parser.Feed(text.substr(from));
  events.insert(events.end(), e.begin(), e.end());
  e = parser.Finish();
  events.insert(events.end(), e.begin(), e.end());
  return events;
}

ParsedMessage ParseWhole(std::string_view text, bool thinking) {
  return AggregateEvents(FeedInPieces(text, {}, thinking));
}

ParsedMessage ParseBytewise(std::string_view text, bool thinking) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < text.size(); ++i) cuts.push_back(i);
  return AggregateEvents(FeedInPieces(text, cuts, thinking));
}

ParsedMessage ParseRandomly(std::string_view text, bool thinking, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < text.size();) {
    i += 1 + rng() % 7;
    if (i < text.size()) cuts.push_back(i);
  }
  return AggregateEvents(FeedInPieces(text, cuts, thinking));
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Every way of cutting a completion must give the same message.
void ExpectChunkingInvariant(std::string_view text, bool thinking) {
  const ParsedMessage whole = ParseWhole(text, thinking);
  EXPECT_EQ(ParseBytewise(text, thinking), whole);
  for (uint32_t seed = 1; seed <= 20; ++seed)
    EXPECT_EQ(ParseRandomly(text, thinking, seed), whole) << "seed " << seed;
  for (size_t cut = 1; cut < text.size(); ++cut)
    EXPECT_EQ(AggregateEvents(FeedInPieces(text, {cut}, thinking)), whole) << "cut " << cut;
}

std::vector<GoldenLine> AllParseCases() {
  auto lines = ReadGoldenLines("parse_cases.jsonl");
  auto more = ReadGoldenLines("more_parse_cases.jsonl");
  lines.insert(lines.end(), more.begin(), more.end());
  return lines;
}

TEST(OutputParserTest, MatchesEveryWellFormedReferenceCase) {
  size_t well_formed = 0;
  for (const auto& line : AllParseCases()) {
    if (line.json.contains("error")) continue;
    ++well_formed;
    const std::string text = line.json["text"];
    const bool thinking = line.json["thinking"];
    SCOPED_TRACE(text);
    const ParsedMessage m = ParseWhole(text, thinking);
    const auto& want = line.json["message"];
    EXPECT_TRUE(m.errors.empty()) << m.errors.front();
    EXPECT_EQ(m.content, want["content"].get<std::string>());
    EXPECT_EQ(m.reasoning_content, want["reasoning_content"].get<std::string>());
    ASSERT_EQ(m.tool_calls.size(), want["tool_calls"].size());
    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
      EXPECT_EQ(m.tool_calls[i].name, want["tool_calls"][i]["function"]["name"]);
      EXPECT_EQ(m.tool_calls[i].arguments, want["tool_calls"][i]["function"]["arguments"]);
    }
    ExpectChunkingInvariant(text, thinking);
  }
  EXPECT_GE(well_formed, 20u);
}

TEST(OutputParserTest, MalformedReferenceCasesReportAndKeepTheirText) {
  size_t malformed = 0;
  for (const auto& line : AllParseCases()) {
    if (!line.json.contains("error")) continue;
    ++malformed;
    const std::string text = line.json["text"];
    const bool thinking = line.json["thinking"];
    SCOPED_TRACE(text);
    const ParsedMessage m = ParseWhole(text, thinking);
    EXPECT_FALSE(m.errors.empty());
    ExpectChunkingInvariant(text, thinking);
    if (!m.tool_calls.empty()) {
      // A well-formed block followed by stray text: the calls stand and the
      // stray text is content.
      EXPECT_EQ(m.errors.front(), "unexpected text after the tool call block");
      continue;
    }
    // Reasoning, the end-of-thinking marker and content give back the text,
    // less the end-of-sentence token that stopped it.
    std::string rebuilt = m.reasoning_content;
    if (thinking && text.compare(rebuilt.size(), kThinkEnd.size(), kThinkEnd) == 0)
      rebuilt += kThinkEnd;
    rebuilt += m.content;
    std::string expected = text;
    if (const size_t eos = expected.find(kEndOfSentence); eos != std::string::npos)
      expected.erase(eos, kEndOfSentence.size());
    EXPECT_EQ(rebuilt, expected);
  }
  EXPECT_GE(malformed, 10u);
}

TEST(OutputParserTest, StreamsToolCallsAsEvents) {
  const std::string text =
      "Let me look.\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"search\">\n"
      "<｜DSML｜parameter name=\"q\" string=\"true\">a \"b\"\n</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"n\" string=\"false\">3</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>";
  OutputParser parser;
  std::vector<OutputEvent> events = parser.Feed(text);
  auto tail = parser.Finish();
  events.insert(events.end(), tail.begin(), tail.end());
  std::string args;
  std::vector<OutputEventType> kinds;
  for (const auto& e : events) {
    if (kinds.empty() || kinds.back() != e.type) kinds.push_back(e.type);
    if (e.type == OutputEventType::kToolCallArgumentsDelta) args += e.text;
    if (e.type == OutputEventType::kToolCallStart) {
      EXPECT_EQ(e.text, "search");
      EXPECT_EQ(e.tool_index, 0);
    }
  }
  EXPECT_EQ(kinds, (std::vector<OutputEventType>{
                       OutputEventType::kContentDelta, OutputEventType::kToolCallStart,
                       OutputEventType::kToolCallArgumentsDelta, OutputEventType::kToolCallEnd,
                       OutputEventType::kFinish}));
  EXPECT_EQ(args, "{\"q\": \"a \\\"b\\\"\\n\", \"n\": 3}");
  EXPECT_EQ(events.back().text, "stop");
  ExpectChunkingInvariant(text, false);
}

TEST(OutputParserTest, DeltasAreWholeUtf8EvenWhenFedBytewise) {
  const std::string text = "思考🎉é</think>回答：多语言🚀<｜end▁of▁sentence｜>";
  OutputParser parser({.thinking = true});
  std::vector<OutputEvent> events;
  for (char c : text) {
    auto e = parser.Feed(std::string_view(&c, 1));
    events.insert(events.end(), e.begin(), e.end());
  }
  for (const auto& e : events) EXPECT_TRUE(ValidUtf8(e.text)) << e.text;
  const ParsedMessage m = AggregateEvents(events);
  EXPECT_EQ(m.reasoning_content, "思考🎉é");
  EXPECT_EQ(m.content, "回答：多语言🚀");
}

TEST(OutputParserTest, TruncatedToolCallBecomesContent) {
  const std::string done =
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"a\">\n</｜DSML｜invoke>\n";
  const std::string cut =
      "<｜DSML｜invoke name=\"b\">\n<｜DSML｜parameter name=\"x\" string=\"true\">par";
  const ParsedMessage m = ParseWhole("ok" + done + cut, false);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "a");
  EXPECT_EQ(m.tool_calls[0].arguments, "{}");
  EXPECT_EQ(m.content, "ok>\n" + cut);
  EXPECT_EQ(m.errors, std::vector<std::string>{"output ended inside a tool call block"});
  EXPECT_EQ(m.finish_reason, "end");
  ExpectChunkingInvariant("ok" + done + cut, false);
}

TEST(OutputParserTest, MalformedMarkupGivesTheSameMessageHoweverItIsCut) {
  const char* kTexts[] = {
      // string= attribute broken, so the header search runs into the close marker
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"calc\">\n<｜DSML｜parameter "
      "name=\"p\" strin\x9d=\"false\">0.5</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls><｜end▁of▁sentence｜>",
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke nome=\"f\">\n</｜DSML｜invoke>",
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter "
      "name=\"a\" string=\"true\">x/｜DSML｜parameter>\n</｜DSML｜invoke>",
      "a\n\n<｜DSML｜function_calls>junk",
      "\n\n<｜DSML｜function_calls>\n</｜DSML｜function_calls>trailing<｜end▁of▁sentence｜>",
      "x<｜end▁of▁sentence｜>y<｜end▁of▁sentence｜>",
      // an end of sentence inside a value that turns out to be malformed
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"x\">\n<｜DSML｜parameter "
      "name=\"a\" string=\"true\">1<｜end▁of▁sentence｜>2$/｜DSML｜parameter>\n</｜DSML｜invoke>",
      "<｜DSML｜｜DSML｜<think></think><｜begin▁of▁sentence｜>",
  };
  for (const char* text : kTexts) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseWhole(text, false).errors.empty());
    ExpectChunkingInvariant(text, false);
    ExpectChunkingInvariant(text, true);
  }
}

TEST(OutputParserTest, ErrorEventNamesTheAbandonedCall) {
  OutputParser parser;
  auto events = parser.Feed(
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" "
      "string=\"maybe\">1</｜DSML｜parameter>");
  auto tail = parser.Finish();
  events.insert(events.end(), tail.begin(), tail.end());
  bool abandoned = false;
  for (const auto& e : events)
    if (e.type == OutputEventType::kError) abandoned |= e.tool_index == 0;
  EXPECT_TRUE(abandoned);
}

TEST(OutputParserTest, ToolBlockWithoutEndOfSentenceIsAccepted) {
  const ParsedMessage m = ParseWhole(
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"f\">\n\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls>",
      false);
  EXPECT_TRUE(m.errors.empty());
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.finish_reason, "end");
}

TEST(OutputParserTest, OddButValidMarkupFollowsTheReference) {
  // Leading whitespace before name=, and "<\n" closing a value.
  const ParsedMessage m = ParseWhole(
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke \u3000 name=\"f\">\n"
      "<｜DSML｜parameter name=\"v\" string=\"false\">[1]<\n/｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>",
      false);
  EXPECT_TRUE(m.errors.empty());
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"v\": [1]}");
}

TEST(OutputParserTest, ParsesWhatTheEncoderWrites) {
  // An assistant turn after the last user message is written exactly as the
  // model should produce it; parsing it back must give the turn again.
  const std::string request = R"({"thinking": true, "messages": [
      {"role": "user", "content": "q"},
      {"role": "assistant", "content": "Sure.", "reasoning_content": "Plan: call two tools.",
       "tool_calls": [
         {"type": "function", "function": {"name": "get_weather",
          "arguments": "{\"city\": \"Zürich\\n\\\"old town\\\"\", \"days\": 3, \"opts\": {\"u\": [1.5, null, true]}}"}},
         {"type": "function", "function": {"name": "noop", "arguments": "{}"}}]}]})";
  Result<std::string> prompt = EncodeChatJson(request);
  ASSERT_TRUE(prompt.ok()) << prompt.status().message();
  const std::string opener = std::string(kAssistantTag) + std::string(kThinkStart);
  const size_t start = prompt->find(opener);
  ASSERT_NE(start, std::string::npos);
  const std::string completion = prompt->substr(start + opener.size());
  const ParsedMessage m = ParseWhole(completion, true);
  EXPECT_TRUE(m.errors.empty());
  EXPECT_EQ(m.reasoning_content, "Plan: call two tools.");
  EXPECT_EQ(m.content, "Sure.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments,
            "{\"city\": \"Zürich\\n\\\"old town\\\"\", \"days\": 3, "
            "\"opts\": {\"u\": [1.5, null, true]}}");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  EXPECT_EQ(m.finish_reason, "stop");
  ExpectChunkingInvariant(completion, true);
}

TEST(OutputParserTest, FeedAfterFinishOnlyReportsAnError) {
  OutputParser parser;
  (void)parser.Feed("a<｜end▁of▁sentence｜>");
  (void)parser.Finish();
  const auto events = parser.Feed("more");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, OutputEventType::kError);
}

TEST(OutputParserTest, JsonOutputHasTheOpenAIShape) {
  ParsedMessage m;
  m.content = "hi";
  m.reasoning_content = "r";
  m.tool_calls.push_back({"f", "{\"a\": 1}"});
  EXPECT_EQ(ParsedMessageJson(m),
            "{\"role\":\"assistant\",\"content\":\"hi\",\"reasoning_content\":\"r\","
            "\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
            "\"arguments\":\"{\\\"a\\\": 1}\"}}]}");
}

}  // namespace
}  // namespace dsv32::chat
