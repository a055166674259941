// dsv32 generate: one completion streamed through the engine, with the speed
// at the end. A text prompt (--prompt) is tokenized and the output streamed
// as text; token ids (--prompt-ids) print ids unless a tokenizer is named.
#include <cstdio>
#include <sstream>

#include "args.h"
#include "command.h"
#include "engine/engine.h"
#include "model_loading.h"

namespace dsv32::cli {
namespace {

Result<std::vector<int32_t>> ParseIds(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      return InvalidArgument("--prompt-ids: '" + item + "' is not a token id");
    }
  }
  return ids;
}

float Float(Args& args, const std::string& name, float fallback, std::string* error) {
  const auto v = args.Get(name);
  if (!v) return fallback;
  try {
    return std::stof(*v);
  } catch (const std::exception&) {
    *error = "--" + name + " must be a number";
    return fallback;
  }
}

int RunGenerate(int argc, char** argv) {
  Args args(argc, argv,
            {"model", "prompt-ids", "prompt", "tokenizer", "max-tokens", "temperature", "top-p",
             "top-k", "seed", "threads", "export-kv", "import-kv"},
            {"quiet"});
  const std::string dir = args.Require("model");
  const auto prompt_ids = args.Get("prompt-ids");
  const auto prompt_text = args.Get("prompt");
  const int64_t max_tokens = args.Int("max-tokens", 32);
  const int64_t threads = args.Int("threads", 0);
  const bool quiet = args.Has("quiet");
  if (!args.ok()) return Fail("generate", args.error());
  if (prompt_ids.has_value() == prompt_text.has_value())
    return Fail("generate", "give either --prompt TEXT or --prompt-ids 1,2,3");

  std::shared_ptr<const Tokenizer> tokenizer;
  if (prompt_text || args.Has("tokenizer")) {
    auto loaded = LoadTokenizerFrom(args.Get("tokenizer").value_or(dir));
    if (!loaded.ok()) return Fail("generate", loaded.status().message());
    tokenizer = std::move(loaded).value();
  }
  auto model = LoadModelWithProgress(dir, quiet);
  if (!model.ok()) return Fail("generate", model.status().message());
  auto ids = prompt_ids ? ParseIds(*prompt_ids)
                        : tokenizer->Encode(*prompt_text,
                                            EncodeOptions{.add_bos = tokenizer->add_bos_token()});
  if (!ids.ok()) return Fail("generate", ids.status().message());
  auto defaults = LoadGenerationDefaults(dir, SamplingParams{});
  if (!defaults.ok()) return Fail("generate", defaults.status().message());

  RequestSpec spec;
  spec.prompt = std::move(ids).value();
  spec.sampling = defaults.value();
  std::string error;
  spec.sampling.temperature = Float(args, "temperature", spec.sampling.temperature, &error);
  spec.sampling.top_p = Float(args, "top-p", spec.sampling.top_p, &error);
  spec.sampling.top_k = static_cast<int32_t>(args.Int("top-k", spec.sampling.top_k));
  spec.sampling.seed = args.Int("seed", -1);
  if (!error.empty() || !args.ok()) return Fail("generate", error.empty() ? args.error() : error);
  if (max_tokens < 1 || threads < 0)
    return Fail("generate", "--max-tokens must be >= 1 and --threads >= 0");
  spec.max_tokens = static_cast<int32_t>(max_tokens);
  spec.kv_export_path = args.Get("export-kv").value_or("");
  spec.kv_import_path = args.Get("import-kv").value_or("");
  if ((*model)->config().eos_token_id >= 0)
    spec.stop_tokens.push_back(static_cast<int32_t>((*model)->config().eos_token_id));
  const bool text = tokenizer != nullptr;
  spec.on_token = [text](const TokenEvent& e) {
    if (text)
      std::fwrite(e.text.data(), 1, e.text.size(), stdout);
    else if (e.token >= 0)
      std::printf("%d ", e.token);
    std::fflush(stdout);
  };

  EngineOptions options;
  options.threads = static_cast<int>(threads);
  options.max_context = static_cast<int64_t>(spec.prompt.size()) + max_tokens;
  options.tokenizer = tokenizer;
  auto engine = Engine::Create(std::move(model).value(), options);
  if (!engine.ok()) return Fail("generate", engine.status().message());
  auto id = (*engine)->Submit(std::move(spec));
  if (!id.ok()) return Fail("generate", id.status().message());
  for (;;) {
    auto ran = (*engine)->Step();
    if (!ran.ok()) return Fail("generate", ran.status().message());
    if (*ran == 0) break;
  }
  std::printf("\n");
  std::fflush(stdout);
  const RequestStatus status = (*engine)->Poll(*id).value();
  if (status.reason == FinishReason::kError) return Fail("generate", status.error);
  const EngineMetrics m = (*engine)->Metrics();
  if (!quiet)
    std::fprintf(stderr, "%llu tokens, time to first token %.3f s, %.2f tokens/s after it\n",
                 static_cast<unsigned long long>(m.generated_tokens), m.ttft.mean(),
                 m.tpot.mean() > 0 ? 1.0 / m.tpot.mean() : 0.0);
  return 0;
}

DSV32_CLI_COMMAND("generate",
                  "stream a completion: --model DIR (--prompt TEXT | --prompt-ids 1,2,3) "
                  "[--tokenizer DIR] [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] "
                  "[--seed S] [--threads N] [--export-kv FILE] [--import-kv FILE] [--quiet]",
                  RunGenerate);

}  // namespace
}  // namespace dsv32::cli
