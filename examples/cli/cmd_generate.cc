// dsv32 generate: one completion streamed through the engine, with the speed
// at the end. A text prompt (--prompt) is tokenized and the output streamed
// as text; token ids (--prompt-ids) print ids unless a tokenizer is named.
// With --speculative K the completion is decoded on its own with K MTP
// drafts per step instead (the engine does not draft yet).
#include <algorithm>
#include <chrono>
#include <climits>
#include <optional>
#include <cstdio>
#include <sstream>

#include "args.h"
#include "command.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/speculative.h"
#include "model_loading.h"
#include "text/stream_decoder.h"

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

using Clock = std::chrono::steady_clock;

// The completion through a SpeculativeDecoder: the same output format, and
// how many drafts were accepted.
int GenerateSpeculative(const Model& model, const RequestSpec& spec, const Tokenizer* tokenizer,
                        int64_t draft_tokens, int64_t threads, bool quiet) {
  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());
  SpeculativeOptions options;
  options.draft_tokens = static_cast<int32_t>(std::min<int64_t>(draft_tokens, INT32_MAX));
  options.max_context = static_cast<int64_t>(spec.prompt.size()) + spec.max_tokens;
  auto decoder = SpeculativeDecoder::Create(model, spec.sampling, options, &pool);
  if (!decoder.ok()) return Fail("generate", "--speculative: " + decoder.status().message());
  const auto t0 = Clock::now();
  auto first = decoder->Start(spec.prompt);
  if (!first.ok()) return Fail("generate", first.status().message());
  const double ttft = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<int32_t> out = {*first};
  size_t printed = 0;
  std::optional<StreamDecoder> text;
  if (tokenizer) text.emplace(*tokenizer);
  auto stops = [&](int32_t t) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), t) != spec.stop_tokens.end();
  };
  // As the engine does: the stop token is the last one emitted.
  const auto max_tokens = static_cast<size_t>(spec.max_tokens);
  bool stopped = false;
  const auto t1 = Clock::now();
  for (;;) {
    for (; printed < out.size() && printed < max_tokens && !stopped; ++printed) {
      if (text) {
        std::string piece;
        if (!text->Push(out[printed], &piece).ok()) piece = "\xEF\xBF\xBD";
        std::fputs(piece.c_str(), stdout);
      } else {
        std::printf("%d ", out[printed]);
      }
      stopped = stops(out[printed]);
    }
    std::fflush(stdout);
    if (stopped || printed >= max_tokens) break;
    if (Status s = decoder->Step(&out); !s.ok()) return Fail("generate", s.message());
  }
  const double decode_s = std::chrono::duration<double>(Clock::now() - t1).count();
  if (text) {
    std::string rest;
    text->Finish(&rest);
    std::fputs(rest.c_str(), stdout);
  }
  std::printf("\n");
  std::fflush(stdout);
  if (!quiet) {
    const SpeculativeStats& st = decoder->stats();
    std::fprintf(stderr,
                 "%zu tokens, time to first token %.3f s, %.2f tokens/s after it; %lld of %lld "
                 "drafts accepted (%.1f%%) in %lld steps of %lld\n",
                 printed, ttft,
                 printed > 1 && decode_s > 0 ? static_cast<double>(printed - 1) / decode_s : 0.0,
                 static_cast<long long>(st.accepted), static_cast<long long>(st.drafted),
                 100.0 * st.acceptance_rate(), static_cast<long long>(st.steps),
                 static_cast<long long>(draft_tokens));
  }
  return 0;
}

int RunGenerate(int argc, char** argv) {
  Args args(argc, argv,
            {"model", "prompt-ids", "prompt", "tokenizer", "max-tokens", "temperature", "top-p",
             "top-k", "seed", "threads", "export-kv", "import-kv", "speculative", "activations"},
            {"quiet", "populate"});
  const std::string dir = args.Require("model");
  const auto prompt_ids = args.Get("prompt-ids");
  const auto prompt_text = args.Get("prompt");
  const int64_t max_tokens = args.Int("max-tokens", 32);
  const int64_t threads = args.Int("threads", 0);
  const bool quiet = args.Has("quiet");
  const int64_t speculative = args.Int("speculative", 0);
  if (!args.ok()) return Fail("generate", args.error());
  if (prompt_ids.has_value() == prompt_text.has_value())
    return Fail("generate", "give either --prompt TEXT or --prompt-ids 1,2,3");

  std::shared_ptr<const Tokenizer> tokenizer;
  if (prompt_text || args.Has("tokenizer")) {
    auto loaded = LoadTokenizerFrom(args.Get("tokenizer").value_or(dir));
    if (!loaded.ok()) return Fail("generate", loaded.status().message());
    tokenizer = std::move(loaded).value();
  }
  auto bind = BindOptionsFromArgs(args);
  if (!bind.ok()) return Fail("generate", bind.status().message());
  auto model = LoadModelWithProgress(dir, quiet, *bind);
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
  if (max_tokens < 1 || threads < 0 || speculative < 0)
    return Fail("generate", "--max-tokens must be >= 1, --threads and --speculative >= 0");
  spec.max_tokens = static_cast<int32_t>(max_tokens);
  spec.kv_export_path = args.Get("export-kv").value_or("");
  spec.kv_import_path = args.Get("import-kv").value_or("");
  if ((*model)->config().eos_token_id >= 0)
    spec.stop_tokens.push_back(static_cast<int32_t>((*model)->config().eos_token_id));
  if (speculative > 0)
    return GenerateSpeculative(**model, spec, tokenizer.get(), speculative, threads, quiet);
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
                  "[--seed S] [--threads N] [--export-kv FILE] [--import-kv FILE] "
                  "[--speculative K] [--quiet]",
                  RunGenerate);

}  // namespace
}  // namespace dsv32::cli
