// Constrained decoding's per-token cost at DeepSeek-V3.2's vocabulary: the
// model's logits are 129280 wide; the tokenizer (tests/data) has 128815 ids,
// and the ids above it are always masked. Each case replays the tokens of a
// realistic completion (the tokenizer's encoding of an example answer),
// computing the allowed-token mask before every token:
//   mask_cold: a fresh grammar, so every new DFA state walks the token trie
//   mask_warm: every state's mask already cached (a grammar's steady state)
//   mask_logits_warm: the same, writing -inf into a logits row instead
//   sample/*: the sampler's whole step over a 129280 row with and without a
//     constraint, the part of a decode step these masks add to
// The tools_* cases hold a reply to DSML tool calls of three functions
// (chat/tool_call_grammar.h): prose then a call (auto), reasoning then two
// calls (required, thinking), one named call; their free-text states
// (prose, reasoning, raw string values) allow nearly every token.
// per_token is seconds per token. The tokenizer directory can be overridden
// with DSV32_TOKENIZER=/path/to/dir.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "chat/tool_call_grammar.h"
#include "engine/sampling.h"
#include "structured/token_constraint.h"
#include "text/tokenizer.h"

namespace dsv32 {
namespace {

using structured::TokenConstraint;
using structured::TokenGrammar;

constexpr int32_t kModelVocab = 129280;

struct Case {
  const char* name;
  const char* schema;  // null: `regex` instead, or `tools`
  const char* regex;
  const char* answer;
  // Not null: a tool-call reply in DSML markup (chat/tool_call_grammar.h).
  const char* tools = nullptr;
  const char* tool_choice = nullptr;
  bool thinking = false;
};

// Three functions an assistant might be given: flat strings and an enum, a
// nested object with an array, and a date-time.
constexpr const char* kTools = R"j([
 {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city",
  "parameters": {"type": "object", "properties": {
    "city": {"type": "string", "description": "City name"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 14}}, "required": ["city"]}}},
 {"type": "function", "function": {"name": "search_web", "description": "Search the web",
  "parameters": {"type": "object", "properties": {
    "query": {"type": "string"},
    "filters": {"type": "object", "properties": {
      "site": {"type": "string"}, "lang": {"enum": ["en", "fr", "de"]},
      "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5}}},
    "max_results": {"type": "integer", "minimum": 1, "maximum": 50}},
   "required": ["query"]}}},
 {"type": "function", "function": {"name": "create_event", "description": "Add a calendar event",
  "parameters": {"type": "object", "properties": {
    "title": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
    "attendees": {"type": "array", "items": {"type": "string"}}, "all_day": {"type": "boolean"}},
   "required": ["title", "start"]}}}
])j";

constexpr const char* kWeatherCall =
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"unit\" string=\"true\">celsius</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>";
constexpr const char* kTwoCalls =
    "I should look up the forecast first, then find recent news about the heat wave in "
    "Paris so the answer has context.</think>"
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"get_weather\">\n"
    "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"search_web\">\n"
    "<｜DSML｜parameter name=\"query\" string=\"true\">Paris heat wave news</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"filters\" string=\"false\">{\"lang\": \"fr\", \"tags\": "
    "[\"weather\", \"europe\"]}</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>";
constexpr const char* kEventCall =
    "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"create_event\">\n"
    "<｜DSML｜parameter name=\"title\" string=\"true\">Design review</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"start\" string=\"false\">\"2025-03-14T15:00:00Z\""
    "</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"attendees\" string=\"false\">[\"ada@example.org\", "
    "\"grace@example.org\"]</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜function_calls>";

const Case kCases[] = {
    {"flat_object",
     R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"admin":{"type":"boolean"}},"required":["name","age","admin"]})",
     nullptr, R"({"name": "Ada Lovelace", "age": 36, "admin": false})"},
    {"nested_schema",
     R"j({"type":"object","properties":{"id":{"type":"string","format":"uuid"},"title":{"type":"string","maxLength":80},
       "tags":{"type":"array","items":{"enum":["news","sport","tech","science"]},"maxItems":4},
       "author":{"$ref":"#/$defs/person"},"score":{"type":["number","null"]}},
       "required":["id","title","tags","author"],
       "$defs":{"person":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string","pattern":"[a-z.]+@[a-z]+\\.(com|org)"}},"required":["name"]}}})j",
     nullptr,
     R"({"id": "123e4567-e89b-12d3-a456-426614174000", "title": "Analytical engines and the weaving of algebraic patterns", "tags": ["tech", "science"], "author": {"name": "Ada Lovelace", "email": "ada@analytical.org"}, "score": 0.97})"},
    {"json_object", R"({"type":"object"})", nullptr,
     R"({"city": "London", "population": 8982000, "boroughs": ["Camden", "Hackney", "Islington"], "mayor": {"name": "Sadiq Khan", "since": 2016}})"},
    {"regex_date_list", nullptr, "(\\d{4}-\\d{2}-\\d{2})(, \\d{4}-\\d{2}-\\d{2})*",
     "2024-01-15, 2024-02-29, 2025-12-31"},
    {"tools_auto", nullptr, nullptr, nullptr, kTools, "\"auto\""},
    {"tools_required_thinking", nullptr, nullptr, kTwoCalls, kTools, "\"required\"", true},
    {"tools_named", nullptr, nullptr, kEventCall, kTools,
     R"({"type": "function", "function": {"name": "create_event"}})"},
};

const Tokenizer& LoadTokenizer() {
  static const std::unique_ptr<Tokenizer> t = [] {
    const char* dir = std::getenv("DSV32_TOKENIZER");
    auto r = Tokenizer::Load(dir ? dir : DSV32_TOKENIZER_DIR);
    if (!r.ok()) {
      std::fprintf(stderr, "structured_bench: %s\n", r.status().message().c_str());
      std::exit(1);
    }
    return std::move(r).value();
  }();
  return *t;
}

std::shared_ptr<const structured::TokenVocabulary> Vocabulary() {
  static const auto v = structured::TokenVocabulary::Build(LoadTokenizer(), kModelVocab).value();
  return v;
}

// With the added tokens tool-call replies spell (as the C API builds it).
std::shared_ptr<const structured::TokenVocabulary> MarkupVocabulary() {
  static const auto v =
      structured::TokenVocabulary::Build(LoadTokenizer(), kModelVocab, chat::kMarkupTokens).value();
  return v;
}

std::shared_ptr<const structured::TokenVocabulary> VocabularyFor(const Case& c) {
  return c.tools ? MarkupVocabulary() : Vocabulary();
}

Result<std::shared_ptr<const TokenGrammar>> Compile(const Case& c) {
  if (c.tools) {
    DSV32_ASSIGN_OR_RETURN(chat::ToolChoice choice, chat::ParseToolChoice(c.tool_choice));
    chat::ToolCallGrammarOptions options;
    options.thinking = c.thinking;
    DSV32_ASSIGN_OR_RETURN(structured::Regex regex,
                           chat::ToolCallReplyRegex(c.tools, choice, options));
    DSV32_ASSIGN_OR_RETURN(structured::Dfa dfa, structured::Dfa::Compile(regex));
    return TokenGrammar::Create(std::move(dfa), MarkupVocabulary());
  }
  return c.schema ? TokenGrammar::FromJsonSchema(c.schema, Vocabulary())
                  : TokenGrammar::FromRegex(c.regex, Vocabulary());
}

// The auto case answers in prose, then calls.
std::vector<int32_t> AnswerTokens(const Case& c) {
  const std::string answer =
      c.answer ? c.answer
               : std::string("Let me check the current conditions for you.") + kWeatherCall;
  return LoadTokenizer().Encode(answer).value();
}

void SetPerToken(benchmark::State& state, size_t tokens) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * tokens));
  state.counters["per_token"] = benchmark::Counter(
      static_cast<double>(tokens),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Compile(benchmark::State& state, const Case& c) {
  VocabularyFor(c);
  for (auto _ : state) {
    auto g = Compile(c);
    if (!g.ok()) {
      state.SkipWithError(g.status().message().c_str());
      return;
    }
    state.counters["dfa_states"] = g.value()->dfa().num_states();
    benchmark::DoNotOptimize(g.value().get());
  }
}

// Mask then advance over the answer's tokens; `fresh` recompiles first.
void MaskLoop(benchmark::State& state, const Case& c, bool fresh, bool logits_row) {
  const std::vector<int32_t> ids = AnswerTokens(c);
  auto compiled = Compile(c);
  if (!compiled.ok()) {
    state.SkipWithError(compiled.status().message().c_str());
    return;
  }
  const int32_t eos = LoadTokenizer().eos_id();
  std::vector<uint64_t> bits((kModelVocab + 63) / 64);
  std::vector<float> logits(kModelVocab, 0.5f);
  auto run = [&](const std::shared_ptr<const TokenGrammar>& g) {
    TokenConstraint t = TokenConstraint::Create(g, {eos}).value();
    for (int32_t id : ids) {
      if (logits_row)
        t.Mask(std::span<float>(logits));
      else
        t.Mask(std::span<uint64_t>(bits));
      if (!t.Advance(id).ok()) return false;
    }
    return t.IsComplete();
  };
  if (!run(compiled.value())) {
    state.SkipWithError("the answer does not match the grammar");
    return;
  }
  for (auto _ : state) {
    std::shared_ptr<const TokenGrammar> g = compiled.value();
    if (fresh) {
      state.PauseTiming();
      g = TokenGrammar::Create(compiled.value()->dfa(), VocabularyFor(c));
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(run(g));
    benchmark::DoNotOptimize(bits.data());
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["answer_tokens"] = static_cast<double>(ids.size());
  SetPerToken(state, ids.size());
}

// One sampler step over a 129280-wide row, constrained to the answer's
// first position or not.
void BM_Sample(benchmark::State& state, const Case* c, float temperature) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(kModelVocab);
  for (float& v : logits) v = normal(rng);
  SamplingParams p;
  p.temperature = temperature;
  p.top_p = 0.95f;
  p.seed = 1;
  if (c) {
    auto g = Compile(*c);
    if (!g.ok()) {
      state.SkipWithError(g.status().message().c_str());
      return;
    }
    // Inside the first string value: most of the vocabulary is allowed.
    TokenConstraint t = TokenConstraint::Create(g.value(), {LoadTokenizer().eos_id()}).value();
    const std::vector<int32_t> prefix = LoadTokenizer().Encode("{\"name\": \"Ada").value();
    for (int32_t id : prefix) (void)t.Advance(id).ok();
    p.constraint = t;
  }
  Sampler sampler(p);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.Sample(logits).token);
  SetPerToken(state, 1);
}

void Register() {
  for (const Case& c : kCases) {
    const std::string n = c.name;
    benchmark::RegisterBenchmark(("compile/" + n).c_str(), BM_Compile, c)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("mask_cold/" + n).c_str(), MaskLoop, c, true, false)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("mask_warm/" + n).c_str(), MaskLoop, c, false, false)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("mask_logits_warm/" + n).c_str(), MaskLoop, c, false, true)
        ->Unit(benchmark::kMicrosecond);
  }
  for (float temperature : {0.0f, 1.0f}) {
    const std::string t = temperature == 0.0f ? "greedy" : "top_p";
    benchmark::RegisterBenchmark(("sample/unconstrained/" + t).c_str(), BM_Sample, nullptr,
                                 temperature)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("sample/flat_object/" + t).c_str(), BM_Sample, &kCases[0],
                                 temperature)
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace dsv32

int main(int argc, char** argv) {
  dsv32::Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
