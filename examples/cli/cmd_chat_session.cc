// dsv32 chat: an interactive conversation. Each line on stdin is a user
// turn; the reply streams as it is generated, the reasoning (thinking mode)
// apart from the answer. The whole conversation is encoded again each turn,
// and the engine's prefix cache serves the part it has seen, so a turn only
// computes what is new.
//
// Lines starting with "/" are commands: /think on|off, /reset, /quit.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "args.h"
#include "chat/output_parser.h"
#include "command.h"
#include "engine/engine.h"
#include "model_loading.h"

namespace dsv32::cli {
namespace {

using nlohmann::json;

// Prints one turn's output as the parser splits it, and keeps it for the
// conversation's history.
class TurnPrinter {
 public:
  explicit TurnPrinter(bool thinking) : parser_(chat::OutputParserOptions{.thinking = thinking}) {}

  void Feed(std::string_view text) { Show(parser_.Feed(text)); }
  void Finish() { Show(parser_.Finish()); }

  json Message() const {
    json m = {{"role", "assistant"}, {"content", content_}};
    if (!reasoning_.empty()) m["reasoning_content"] = reasoning_;
    if (!tool_calls_.empty()) m["tool_calls"] = tool_calls_;
    return m;
  }

 private:
  void Show(const std::vector<chat::OutputEvent>& events) {
    for (const chat::OutputEvent& e : events) {
      switch (e.type) {
        case chat::OutputEventType::kReasoningDelta:
          Section("\x1b[2m[thinking] ");
          reasoning_ += e.text;
          std::fputs(e.text.c_str(), stdout);
          break;
        case chat::OutputEventType::kContentDelta:
          Section("\x1b[0m");
          content_ += e.text;
          std::fputs(e.text.c_str(), stdout);
          break;
        case chat::OutputEventType::kToolCallStart:
          Section("\x1b[0m");
          tool_calls_.push_back(
              {{"type", "function"}, {"function", {{"name", e.text}, {"arguments", ""}}}});
          std::printf("[tool call %s] ", e.text.c_str());
          break;
        case chat::OutputEventType::kToolCallArgumentsDelta:
          tool_calls_.back()["function"]["arguments"] =
              tool_calls_.back()["function"]["arguments"].get<std::string>() + e.text;
          std::fputs(e.text.c_str(), stdout);
          break;
        case chat::OutputEventType::kError:
          std::fprintf(stderr, "\n[output: %s]\n", e.text.c_str());
          break;
        case chat::OutputEventType::kToolCallEnd:
        case chat::OutputEventType::kFinish:
          break;
      }
    }
    std::fflush(stdout);
  }
  void Section(const char* style) {
    if (style_ == style) return;
    if (!style_.empty()) std::printf("\n");
    style_ = style;
    std::fputs(style, stdout);
  }

  chat::OutputParser parser_;
  std::string style_, reasoning_, content_;
  json tool_calls_ = json::array();
};

int RunChat(int argc, char** argv) {
  Args args(argc, argv,
            {"model", "tokenizer", "system", "max-tokens", "temperature", "top-p", "seed",
             "threads", "max-context", "activations"},
            {"thinking", "quiet", "populate"});
  const std::string dir = args.Require("model");
  const int64_t max_tokens = args.Int("max-tokens", 512);
  const int64_t threads = args.Int("threads", 0);
  const int64_t max_context = args.Int("max-context", 8192);
  const int64_t seed = args.Int("seed", -1);
  bool thinking = args.Has("thinking");
  if (!args.ok()) return Fail("chat", args.error());
  if (max_tokens < 1 || threads < 0 || max_context < 1)
    return Fail("chat", "--max-tokens and --max-context must be >= 1, --threads >= 0");

  auto tokenizer = LoadTokenizerFrom(args.Get("tokenizer").value_or(dir));
  if (!tokenizer.ok()) return Fail("chat", tokenizer.status().message());
  auto bind = BindOptionsFromArgs(args);
  if (!bind.ok()) return Fail("chat", bind.status().message());
  auto model = LoadModelWithProgress(dir, args.Has("quiet"), *bind);
  if (!model.ok()) return Fail("chat", model.status().message());
  auto sampling = LoadGenerationDefaults(dir, SamplingParams{});
  if (!sampling.ok()) return Fail("chat", sampling.status().message());
  try {
    if (auto t = args.Get("temperature")) sampling->temperature = std::stof(*t);
    if (auto p = args.Get("top-p")) sampling->top_p = std::stof(*p);
  } catch (const std::exception&) {
    return Fail("chat", "--temperature and --top-p must be numbers");
  }
  sampling->seed = seed;
  const int64_t eos = (*model)->config().eos_token_id;

  EngineOptions options;
  options.threads = static_cast<int>(threads);
  options.max_context = max_context;
  options.max_running = 1;
  options.tokenizer = *tokenizer;
  auto engine = Engine::Create(std::move(model).value(), options);
  if (!engine.ok()) return Fail("chat", engine.status().message());

  json messages = json::array();
  if (auto system = args.Get("system"))
    messages.push_back({{"role", "system"}, {"content", *system}});
  const size_t kept = messages.size();
  std::string line;
  while (std::printf("\x1b[0m> "), std::fflush(stdout), std::getline(std::cin, line)) {
    if (line == "/quit") break;
    if (line == "/reset") {
      messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(kept), messages.end());
      continue;
    }
    if (line == "/think on" || line == "/think off") {
      thinking = line == "/think on";
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    RequestSpec spec;
    spec.chat_request = json{{"messages", messages}, {"thinking", thinking}}.dump();
    spec.sampling = *sampling;
    spec.max_tokens = static_cast<int32_t>(max_tokens);
    if (eos >= 0) spec.stop_tokens.push_back(static_cast<int32_t>(eos));
    TurnPrinter printer(thinking);
    spec.on_token = [&printer](const TokenEvent& e) {
      printer.Feed(e.text);
      if (e.finished) printer.Finish();
    };
    auto id = (*engine)->Submit(std::move(spec));
    if (!id.ok()) {
      messages.erase(messages.end() - 1);
      std::fprintf(stderr, "dsv32 chat: error: %s\n", id.status().message().c_str());
      continue;
    }
    for (;;) {
      auto ran = (*engine)->Step();
      if (!ran.ok()) return Fail("chat", ran.status().message());
      if (*ran == 0) break;
    }
    const RequestStatus status = (*engine)->Poll(*id).value();
    (void)(*engine)->Release(*id);
    std::printf("\x1b[0m\n");
    if (!args.Has("quiet"))
      std::fprintf(stderr, "[%zu tokens, %.2f s to the first]\n", status.generated.size(),
                   status.ttft_seconds);
    messages.push_back(printer.Message());
  }
  std::printf("\x1b[0m\n");
  return 0;
}

DSV32_CLI_COMMAND("chat",
                  "interactive chat: --model DIR [--tokenizer DIR] [--thinking] [--system TEXT] "
                  "[--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--threads N] "
                  "[--max-context N] [--quiet]; stdin lines are user turns, /think on|off, "
                  "/reset, /quit",
                  RunChat);

}  // namespace
}  // namespace dsv32::cli
