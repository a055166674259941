// dsv32 tokenize / detokenize: text to ids and back with a model's tokenizer,
// stdin to stdout, byte-exact both ways (no newline is stripped or added to
// the text).
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "text/tokenizer.h"

namespace dsv32::cli {
namespace {

std::string ReadStdin() {
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) text.append(buffer, n);
  return text;
}

// --tokenizer DIR, or else --model DIR: a model directory holds its tokenizer
// files beside config.json.
Result<std::unique_ptr<Tokenizer>> LoadTokenizer(Args& args) {
  std::optional<std::string> dir = args.Get("tokenizer");
  if (!dir) dir = args.Get("model");
  if (!dir) return InvalidArgument("missing option '--tokenizer DIR' (or '--model DIR')");
  return Tokenizer::Load(*dir);
}

int Tokenize(int argc, char** argv) {
  Args args(argc, argv, {"tokenizer", "model"}, {"bos", "no-special-tokens"});
  if (!args.ok()) return Fail("tokenize", args.error());
  auto tok = LoadTokenizer(args);
  if (!tok.ok()) return Fail("tokenize", tok.status().message());
  EncodeOptions options;
  options.add_bos = args.Has("bos");
  options.parse_special_tokens = !args.Has("no-special-tokens");
  auto ids = (*tok)->Encode(ReadStdin(), options);
  if (!ids.ok()) return Fail("tokenize", ids.status().message());
  std::string line;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) line += ' ';
    line += std::to_string((*ids)[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

int Detokenize(int argc, char** argv) {
  Args args(argc, argv, {"tokenizer", "model"}, {"skip-special-tokens"});
  if (!args.ok()) return Fail("detokenize", args.error());
  const std::string input = ReadStdin();
  std::vector<int32_t> ids;
  size_t i = 0;
  while (true) {
    while (i < input.size() && std::isspace(static_cast<unsigned char>(input[i]))) ++i;
    if (i == input.size()) break;
    size_t end = i;
    while (end < input.size() && !std::isspace(static_cast<unsigned char>(input[end]))) ++end;
    const std::string word = input.substr(i, end - i);
    char* stop = nullptr;
    const long long id = std::strtoll(word.c_str(), &stop, 10);
    if (*stop != '\0' || word[0] == '+' || id < 0 || id > INT32_MAX)
      return Fail("detokenize", "'" + word + "' is not a token id");
    ids.push_back(static_cast<int32_t>(id));
    i = end;
  }
  auto tok = LoadTokenizer(args);
  if (!tok.ok()) return Fail("detokenize", tok.status().message());
  DecodeOptions options;
  options.skip_special_tokens = args.Has("skip-special-tokens");
  auto text = (*tok)->Decode(ids, options);
  if (!text.ok()) return Fail("detokenize", text.status().message());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace

DSV32_CLI_COMMAND("tokenize",
                  "stdin text -> token ids (--tokenizer DIR | --model DIR, [--bos], "
                  "[--no-special-tokens])",
                  Tokenize);
DSV32_CLI_COMMAND("detokenize",
                  "stdin token ids -> text (--tokenizer DIR | --model DIR, "
                  "[--skip-special-tokens])",
                  Detokenize);

}  // namespace dsv32::cli
