// Streaming parser for DeepSeek-V3.2 completions: feed the generated text in
// pieces of any size (a piece may end inside a marker or inside a UTF-8
// character) and get events back as soon as they are certain.
//
// The completion's grammar (thinking mode starts inside the reasoning):
//   [reasoning "</think>"] content
//   ["\n\n<｜DSML｜function_calls>\n" invoke* "</｜DSML｜function_calls>"]
//   "<｜end▁of▁sentence｜>"
// with each invoke written as the chat encoder writes tool calls. Arguments
// stream as JSON text: strings escaped, other values verbatim, the same text
// the reference parser builds.
//
// Malformed or truncated output never stops the parser and never drops text:
// an error event says what was wrong and the text that could not be read as
// structure follows as content. A tool call that has a start event but no end
// when an error arrives is abandoned: its raw markup is part of that content.
//
// The end-of-sentence text is the stop token: an engine that stops on that
// token should feed its text, or Finish() reports the output as cut short
// (as the reference does). Where the reference parser refuses a completion,
// this parser reports errors and keeps the text; the one other difference is
// that the reference accepts a few truncated tool-call blocks (text ending
// right after an invoke header, after "</｜DSML｜parameter>\n" or after
// "</｜DSML｜invoke"), which here are errors with the unfinished call kept as
// content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dsv32::chat {

enum class OutputEventType {
  kReasoningDelta,          // text: more reasoning
  kContentDelta,            // text: more content
  kToolCallStart,           // tool_index, text: the function name
  kToolCallArgumentsDelta,  // tool_index, text: more of the arguments' JSON text
  kToolCallEnd,             // tool_index
  kError,                   // text: what was wrong; tool_index: the abandoned call or -1
  kFinish,                  // text: "stop" (end of sentence seen) or "end" (text ran out)
};

struct OutputEvent {
  OutputEventType type;
  int tool_index = -1;
  std::string text;

  bool operator==(const OutputEvent&) const = default;
};

struct OutputParserOptions {
  bool thinking = false;  // the prompt ended with "<think>": output opens with reasoning
};

class OutputParser {
 public:
  explicit OutputParser(OutputParserOptions options = {});

  // Consumes more generated text; returns the events it completes.
  std::vector<OutputEvent> Feed(std::string_view text);
  // Ends the stream: flushes held-back text, reports truncation, and closes
  // with a kFinish event. Feed and Finish after this only report an error.
  std::vector<OutputEvent> Finish();

 private:
  enum class State {
    kReasoning,
    kContent,
    kBlockOpen,     // after "\n\n<｜DSML｜function_calls"
    kInvokeHeader,  // after "<｜DSML｜invoke"
    kParamHeader,   // after "<｜DSML｜parameter"
    kParamValue,
    kAfterParam,   // after "/｜DSML｜parameter"
    kAfterInvoke,  // after "</｜DSML｜invoke"
    kAfterBlock,   // after "</｜DSML｜function_calls>"
    kDone,         // after "<｜end▁of▁sentence｜>"
    kRaw,          // after a malformed structure: everything is content
    kFinished,
  };

  void Run();
  bool Step();
  bool StepText();
  bool StepBlockOpen();
  bool StepInvokeHeader();
  bool StepParamHeader();
  bool StepParamValue();
  bool StepAfterParam();

  void Emit(OutputEventType type, std::string text, int tool_index = -1);
  // Emits and consumes buffer_[0, end) on the current text channel;
  // buffer_[0, stretch_end) is text of that channel too.
  void EmitText(size_t end, size_t stretch_end);
  // Reports special tokens in `stretch` that start before `starts_before`.
  void ReportSpecialTokens(std::string_view stretch, size_t starts_before);
  void Consume(size_t n);
  void CloseInvoke();
  // Gives up on the structure being read: reports `why` and hands its raw
  // text to content.
  void Abandon(const std::string& why);

  State state_;
  std::string buffer_;    // received but not yet consumed
  std::string pending_;   // consumed markup of the tool-call block not yet committed
  size_t scan_from_ = 0;  // where a marker search in buffer_ may resume
  bool in_block_ = false;
  bool tool_open_ = false;
  bool value_is_string_ = false;
  bool saw_eos_ = false;
  bool reported_trailing_ = false;
  int tool_count_ = 0;
  std::vector<std::string> param_names_;
  std::vector<OutputEvent>* out_ = nullptr;
};

}  // namespace dsv32::chat
