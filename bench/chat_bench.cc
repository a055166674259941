// Chat layer speed: prompt encoding of a long conversation, and the streaming
// output parser fed token-sized pieces, as an engine feeds it.
#include <benchmark/benchmark.h>

#include <string>

#include "chat/chat_encoder.h"
#include "chat/output_parser.h"
#include "chat/special_tokens.h"

namespace dsv32::chat {
namespace {

// A completion with long reasoning, content and two tool calls (~100 KB).
std::string Completion() {
  std::string reasoning, content, value;
  for (int i = 0; i < 400; ++i) {
    reasoning += "Step " + std::to_string(i) + ": weigh the options, 考虑一下 🎯 and go on.\n";
    content += "Paragraph " + std::to_string(i) + " of the answer, with \"quotes\".\n";
    value += "line " + std::to_string(i) + "\tof code\n";
  }
  return reasoning + std::string(kThinkEnd) + content +
         "\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name=\"run_code\">\n"
         "<｜DSML｜parameter name=\"code\" string=\"true\">" +
         value +
         "</｜DSML｜parameter>\n<｜DSML｜parameter name=\"timeout\" string=\"false\">30"
         "</｜DSML｜parameter>\n</｜DSML｜invoke>\n<｜DSML｜invoke name=\"noop\">\n\n"
         "</｜DSML｜invoke>\n</｜DSML｜function_calls>" +
         std::string(kEndOfSentence);
}

void BM_OutputParserTokenPieces(benchmark::State& state) {
  const std::string text = Completion();
  const size_t piece = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    OutputParser parser({.thinking = true});
    size_t events = 0;
    for (size_t i = 0; i < text.size(); i += piece)
      events += parser.Feed(std::string_view(text).substr(i, piece)).size();
    events += parser.Finish().size();
    benchmark::DoNotOptimize(events);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_OutputParserTokenPieces)->Arg(1)->Arg(4)->Arg(64);

void BM_EncodeConversation(benchmark::State& state) {
  std::string request = R"({"thinking": true, "messages": [
      {"role": "system", "content": "You are a helpful assistant.", "tools": [
        {"type": "function", "function": {"name": "search", "description": "Web search",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"},
         "top_k": {"type": "integer"}}, "required": ["query"]}}}]})";
  for (int i = 0; i < 50; ++i) {
    request += R"(, {"role": "user", "content": "Question )" + std::to_string(i) +
               R"( about something long enough to matter."},
      {"role": "assistant", "content": "", "reasoning_content": "Look it up.",
       "tool_calls": [{"type": "function", "function": {"name": "search",
       "arguments": "{\"query\": \"q\", \"top_k\": 3}"}}]},
      {"role": "tool", "content": "result text"},
      {"role": "assistant", "content": "Here is the answer.", "reasoning_content": "ok"})";
  }
  request += R"(, {"role": "user", "content": "last"}]})";
  size_t bytes = 0;
  for (auto _ : state) {
    Result<std::string> prompt = EncodeChatJson(request);
    bytes = prompt->size();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
  state.counters["prompt_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodeConversation);

}  // namespace
}  // namespace dsv32::chat

BENCHMARK_MAIN();
