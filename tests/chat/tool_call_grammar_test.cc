// The tool-call grammar round trip: replies drawn at random from the
// grammar's DFA parse, with the output parser, into tool calls of the
// chosen tools whose arguments are JSON matching each function's schema.
#include "chat/tool_call_grammar.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "chat/output_parser.h"
#include "structured/dfa.h"

namespace dsv32::chat {
namespace {

using structured::Dfa;

constexpr const char* kTools = R"j([
 {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
  "parameters": {"type": "object", "properties": {
    "city": {"type": "string", "description": "City name"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 14}},
   "required": ["city"], "additionalProperties": false}}},
 {"type": "function", "function": {"name": "search",
  "parameters": {"type": "object", "properties": {
    "query": {"type": "string"},
    "filters": {"type": "object", "properties": {
       "site": {"type": "string", "maxLength": 20}, "tags": {"type": "array",
       "items": {"$ref": "#/$defs/tag"}, "maxItems": 3}}, "required": ["site"]},
    "exact": {"type": "boolean"}},
   "required": ["query", "exact"], "$defs": {"tag": {"enum": ["news", "code"]}}}}},
 {"type": "function", "function": {"name": "now"}}
])j";

ToolCallGrammarOptions Options(bool thinking, std::string content_schema = "") {
  ToolCallGrammarOptions o;
  o.thinking = thinking;
  o.content_schema = std::move(content_schema);
  return o;
}

Dfa Compile(std::string_view tools, const ToolChoice& choice,
            const ToolCallGrammarOptions& options = {}) {
  auto regex = ToolCallReplyRegex(tools, choice, options);
  EXPECT_TRUE(regex.ok()) << regex.status().message();
  auto dfa = Dfa::Compile(regex.value());
  EXPECT_TRUE(dfa.ok()) << dfa.status().message();
  return std::move(dfa).value();
}

// Each state's distance to acceptance, by reverse breadth-first search.
std::vector<int32_t> DistanceToAcceptance(const Dfa& dfa) {
  const int32_t n = dfa.num_states();
  std::vector<int32_t> dist(static_cast<size_t>(n), -1);
  std::vector<std::vector<int32_t>> preds(static_cast<size_t>(n));
  std::vector<int32_t> work;
  for (int32_t s = 0; s < n; ++s) {
    for (int b = 0; b < 256; ++b)
      if (int32_t t = dfa.Next(s, static_cast<uint8_t>(b)); t != Dfa::kDead)
        preds[static_cast<size_t>(t)].push_back(s);
    if (dfa.accepting(s)) {
      dist[static_cast<size_t>(s)] = 0;
      work.push_back(s);
    }
  }
  for (size_t i = 0; i < work.size(); ++i)
    for (int32_t p : preds[static_cast<size_t>(work[i])])
      if (dist[static_cast<size_t>(p)] < 0) {
        dist[static_cast<size_t>(p)] = dist[static_cast<size_t>(work[i])] + 1;
        work.push_back(p);
      }
  return dist;
}

// A random whole match: random bytes the DFA allows, heading for the
// nearest accepting state once the text is long enough (every state the
// DFA keeps can reach one; `dist` is DistanceToAcceptance(dfa)). Bytes that
// would make text hard to read back are drawn more often, so markup
// look-alikes get tried.
std::string RandomMatch(const Dfa& dfa, const std::vector<int32_t>& dist, std::mt19937& rng,
                        size_t soft_length, const std::string& prefix = "") {
  std::string out = prefix;
  int32_t s = dfa.Walk(dfa.start(), prefix);
  EXPECT_NE(s, Dfa::kDead) << prefix;
  while (true) {
    if (dfa.accepting(s) && (dfa.final(s) || out.size() > soft_length || rng() % 16 == 0)) break;
    std::vector<uint8_t> bytes;
    for (int b = 0; b < 256; ++b) {
      const int32_t t = dfa.Next(s, static_cast<uint8_t>(b));
      if (t == Dfa::kDead) continue;
      if (out.size() > soft_length && dist[static_cast<size_t>(t)] >= dist[static_cast<size_t>(s)])
        continue;
      const int weight = std::string_view("<>/\n\"{}[]｜think").find(static_cast<char>(b)) !=
                                 std::string_view::npos
                             ? 8
                             : 1;
      for (int w = 0; w < weight; ++w) bytes.push_back(static_cast<uint8_t>(b));
    }
    const uint8_t b = bytes[rng() % bytes.size()];
    out.push_back(static_cast<char>(b));
    s = dfa.Next(s, b);
  }
  return out;
}

struct Parsed {
  std::string reasoning, content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
  std::vector<std::string> errors;
};

Parsed Parse(const std::string& reply, bool thinking) {
  OutputParserOptions options;
  options.thinking = thinking;
  OutputParser parser(options);
  Parsed p;
  std::vector<OutputEvent> events = parser.Feed(reply + "<｜end▁of▁sentence｜>");
  for (OutputEvent& e : parser.Finish()) events.push_back(std::move(e));
  for (const OutputEvent& e : events) {
    switch (e.type) {
      case OutputEventType::kReasoningDelta:
        p.reasoning += e.text;
        break;
      case OutputEventType::kContentDelta:
        p.content += e.text;
        break;
      case OutputEventType::kToolCallStart:
        p.calls.push_back({e.text, ""});
        break;
      case OutputEventType::kToolCallArgumentsDelta:
        p.calls.back().second += e.text;
        break;
      case OutputEventType::kError:
        p.errors.push_back(e.text);
        break;
      default:
        break;
    }
  }
  return p;
}

// Each function's parameters schema, compiled the way a JSON reply is.
std::map<std::string, Dfa> ArgumentSchemas(std::string_view tools_json) {
  std::map<std::string, Dfa> out;
  for (const auto& tool : nlohmann::ordered_json::parse(tools_json)) {
    const auto& f = tool["function"];
    const std::string schema = f.contains("parameters") ? f["parameters"].dump()
                                                        : "{\"type\":\"object\",\"properties\":{}}";
    auto regex = structured::JsonSchemaToRegex(schema);
    EXPECT_TRUE(regex.ok()) << regex.status().message();
    out.emplace(f["name"].get<std::string>(), Dfa::Compile(regex.value()).value());
  }
  return out;
}

void ExpectRoundTrip(const ToolChoice& choice, bool thinking, int draws, size_t min_calls,
                     size_t max_calls) {
  const Dfa dfa = Compile(kTools, choice, Options(thinking));
  const auto schemas = ArgumentSchemas(kTools);
  const auto dist = DistanceToAcceptance(dfa);
  std::mt19937 rng(7);
  size_t with_calls = 0;
  for (int i = 0; i < draws; ++i) {
    // Free text seldom spells the block's opening by chance: half the
    // draws start with it.
    const std::string opening = (thinking ? "Thought.</think>" : "") +
                                std::string(min_calls == 0 ? "Sure." : "") +
                                "\n\n<｜DSML｜function_calls>\n";
    const std::string reply = RandomMatch(dfa, dist, rng, 200, i % 2 ? opening : "");
    const Parsed p = Parse(reply, thinking);
    EXPECT_TRUE(p.errors.empty()) << reply << "\n" << p.errors.front();
    EXPECT_GE(p.calls.size(), min_calls) << reply;
    EXPECT_LE(p.calls.size(), max_calls) << reply;
    with_calls += !p.calls.empty();
    for (const auto& [name, arguments] : p.calls) {
      ASSERT_TRUE(schemas.contains(name)) << name;
      if (choice.kind == ToolChoice::Kind::kFunction) {
        EXPECT_EQ(name, choice.function);
      }
      EXPECT_TRUE(nlohmann::json::accept(arguments)) << arguments;
      EXPECT_TRUE(schemas.at(name).Matches(arguments)) << name << ": " << arguments;
    }
  }
  if (min_calls == 0) {
    EXPECT_GT(with_calls, 0u);
  }
}

TEST(ToolCallGrammarTest, AutoRepliesParseIntoValidCalls) {
  ExpectRoundTrip({ToolChoice::Kind::kAuto, ""}, false, 300, 0, 1000);
}

TEST(ToolCallGrammarTest, RequiredRepliesAlwaysCall) {
  ExpectRoundTrip({ToolChoice::Kind::kRequired, ""}, false, 300, 1, 1000);
  ExpectRoundTrip({ToolChoice::Kind::kRequired, ""}, true, 200, 1, 1000);
}

TEST(ToolCallGrammarTest, NamedFunctionIsCalledOnce) {
  ExpectRoundTrip({ToolChoice::Kind::kFunction, "search"}, false, 300, 1, 1);
  ExpectRoundTrip({ToolChoice::Kind::kFunction, "get_weather"}, true, 200, 1, 1);
}

TEST(ToolCallGrammarTest, WritesCallsAsTheEncoderDoes) {
  const Dfa dfa = Compile(kTools, {ToolChoice::Kind::kAuto, ""}, Options(true));
  const std::string call =
      "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
      "<｜DSML｜parameter name=\"city\" string=\"true\">Paris </ x>\n</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"now\">\n\n</｜DSML｜invoke>\n"
      "</｜DSML｜function_calls>";
  EXPECT_TRUE(dfa.Matches("Let me look.</think>Checking." + call));
  EXPECT_TRUE(dfa.Matches("</think>Just text."));
  // Required parameter missing, parameters out of order, an unknown tool.
  EXPECT_FALSE(
      dfa.Matches("</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                  "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
                  "</｜DSML｜invoke>\n</｜DSML｜function_calls>"));
  EXPECT_FALSE(
      dfa.Matches("</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
                  "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
                  "<｜DSML｜parameter name=\"city\" string=\"true\">Oslo</｜DSML｜parameter>\n"
                  "</｜DSML｜invoke>\n</｜DSML｜function_calls>"));
  EXPECT_FALSE(
      dfa.Matches("</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"other\">\n\n"
                  "</｜DSML｜invoke>\n</｜DSML｜function_calls>"));
  // Reasoning ends at the first </think>; markup inside it is refused.
  EXPECT_FALSE(dfa.Matches("a</think>b</think>c"));
  EXPECT_FALSE(dfa.Matches("a<｜DSML｜b</think>c"));
}

TEST(ToolCallGrammarTest, ContentSchemaOrACall) {
  const Dfa dfa = Compile(
      kTools, {ToolChoice::Kind::kAuto, ""},
      Options(false,
              R"({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]})"));
  EXPECT_TRUE(dfa.Matches(R"({"ok": true})"));
  EXPECT_FALSE(dfa.Matches("free text"));
  EXPECT_TRUE(
      dfa.Matches("\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"now\">\n\n"
                  "</｜DSML｜invoke>\n</｜DSML｜function_calls>"));
}

// A response format without tools: after free reasoning the content is
// the schema's JSON, and replies drawn from the grammar parse into exactly
// that.
TEST(ToolCallGrammarTest, ContentReplyReasonsThenMatchesTheSchema) {
  const std::string schema =
      R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer"}},)"
      R"("required":["ok"]})";
  auto regex = ContentReplyRegex(Options(true, schema));
  ASSERT_TRUE(regex.ok()) << regex.status().message();
  const Dfa dfa = Dfa::Compile(regex.value()).value();
  EXPECT_TRUE(dfa.Matches(R"(Let me see.</think>{"ok": true})"));
  EXPECT_TRUE(dfa.Matches(R"(</think>{"ok": false, "n": 3})"));
  EXPECT_FALSE(dfa.Matches(R"({"ok": true})"));  // the reasoning's end must come first
  EXPECT_FALSE(dfa.Matches("Let me see.</think>free text"));
  EXPECT_FALSE(dfa.Matches(R"(a</think>b</think>{"ok": true})"));
  auto content = structured::JsonSchemaToRegex(schema);
  ASSERT_TRUE(content.ok());
  const Dfa json = Dfa::Compile(content.value()).value();
  const auto dist = DistanceToAcceptance(dfa);
  std::mt19937 rng(11);
  for (int i = 0; i < 100; ++i) {
    const std::string reply = RandomMatch(dfa, dist, rng, 120);
    const Parsed p = Parse(reply, /*thinking=*/true);
    EXPECT_TRUE(p.errors.empty()) << reply << "\n" << p.errors.front();
    EXPECT_TRUE(p.calls.empty()) << reply;
    EXPECT_TRUE(json.Matches(p.content)) << reply;
  }

  // Without reasoning the schema is the whole reply.
  const Dfa plain = Dfa::Compile(ContentReplyRegex(Options(false, schema)).value()).value();
  EXPECT_TRUE(plain.Matches(R"({"ok": true})"));
  EXPECT_FALSE(plain.Matches(R"(</think>{"ok": true})"));

  EXPECT_EQ(ContentReplyRegex(Options(true, "")).status().code(), StatusCode::kInvalidArgument);
  auto bad = ContentReplyRegex(Options(true, R"({"type":"object","patternProperties":{}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("content schema"), std::string::npos)
      << bad.status().message();
}

TEST(ToolCallGrammarTest, ErrorsNameTheToolAndProperty) {
  auto expect = [](std::string_view tools, const ToolChoice& choice, StatusCode code,
                   const std::string& words) {
    auto r = ToolCallReplyRegex(tools, choice);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().message();
    EXPECT_NE(r.status().message().find(words), std::string::npos) << r.status().message();
  };
  const ToolChoice any{ToolChoice::Kind::kRequired, ""};
  expect(R"([{"type":"function","function":{"name":"f","parameters":{"type":"object",
         "properties":{"n":{"type":"integer","multipleOf":3}}}}}])",
         any, StatusCode::kUnsupported, "tools[0] (f) property \"n\"");
  expect(R"([{"type":"function","function":{"name":"f","parameters":{"type":"object",
         "properties":{"e":{"enum":[]}}}}}])",
         any, StatusCode::kInvalidArgument, "tools[0] (f) property \"e\"");
  expect(R"([{"type":"function","function":{"name":"f","parameters":{"type":"object",
         "properties":{"s":{"type":"string","enum":[]}}}}}])",
         any, StatusCode::kInvalidArgument, "tools[0] (f) property \"s\": schema.enum");
  expect(R"([{"type":"function","function":{"name":"f","parameters":{"type":"object",
         "properties":{},"required":["x"]}}}])",
         any, StatusCode::kInvalidArgument, "\"x\" is not among the properties");
  expect(R"([{"type":"function","function":{"name":"a\"b"}}])", any, StatusCode::kInvalidArgument,
         "tools[0] (a\"b).function.name");
  expect(R"([{"type":"function","function":{"name":"f"}}])", {ToolChoice::Kind::kFunction, "g"},
         StatusCode::kInvalidArgument, "\"g\" is not among");
  expect("[]", any, StatusCode::kInvalidArgument, "tools: empty");
  expect("{", any, StatusCode::kInvalidArgument, "tools: expected an array");
  expect(R"([{"function":{"name":"f"}}])", {ToolChoice::Kind::kNone, ""},
         StatusCode::kInvalidArgument, "constrains nothing");
}

TEST(ToolCallGrammarTest, ParsesToolChoice) {
  EXPECT_EQ(ParseToolChoice("\"auto\"")->kind, ToolChoice::Kind::kAuto);
  EXPECT_EQ(ParseToolChoice("\"none\"")->kind, ToolChoice::Kind::kNone);
  EXPECT_EQ(ParseToolChoice("\"required\"")->kind, ToolChoice::Kind::kRequired);
  auto named = ParseToolChoice(R"({"type":"function","function":{"name":"f"}})");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->kind, ToolChoice::Kind::kFunction);
  EXPECT_EQ(named->function, "f");
  EXPECT_FALSE(ParseToolChoice("\"sometimes\"").ok());
  EXPECT_FALSE(ParseToolChoice("{").ok());
}

}  // namespace
}  // namespace dsv32::chat
