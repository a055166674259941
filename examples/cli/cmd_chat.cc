// `dsv32 chat-encode`: a chat request (JSON on stdin) to the exact prompt text.
// `dsv32 parse-output`: a completion (text on stdin) to the assistant message
// as JSON.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "args.h"
#include "chat/chat_encoder.h"
#include "chat/parsed_message.h"
#include "command.h"

namespace dsv32::cli {
namespace {

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int ChatEncode(int argc, char** argv) {
  // The prompt is text, so the tokenizer is not needed; the options are
  // accepted so that scripts can pass the model directory they pass elsewhere.
  Args args(argc, argv, {"tokenizer", "model"}, {});
  if (!args.ok()) return Fail("chat-encode", args.error());
  const Result<std::string> prompt = chat::EncodeChatJson(ReadStdin());
  if (!prompt.ok()) return Fail("chat-encode", prompt.status().message());
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  return 0;
}

int ParseOutput(int argc, char** argv) {
  Args args(argc, argv, {}, {"thinking"});
  if (!args.ok()) return Fail("parse-output", args.error());
  const chat::ParsedMessage message =
      chat::ParseCompletion(ReadStdin(), {.thinking = args.Has("thinking")});
  std::printf("%s\n", chat::ParsedMessageJson(message).c_str());
  // The message is printed either way: what could not be parsed is in its content.
  if (!message.errors.empty()) return Fail("parse-output", message.errors.front());
  return 0;
}

}  // namespace

DSV32_CLI_COMMAND("chat-encode", "chat request JSON on stdin -> prompt text", ChatEncode);
DSV32_CLI_COMMAND("parse-output", "completion text on stdin -> message JSON [--thinking]",
                  ParseOutput);

}  // namespace dsv32::cli
