#include "model_loading.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace dsv32::cli {

Result<BindOptions> BindOptionsFromArgs(const Args& args) {
  BindOptions options;
  if (const auto name = args.Get("activations")) {
    auto parsed = ParseActivationPrecision(*name);
    if (!parsed.ok()) return parsed.status().WithContext("--activations");
    options.activations = *parsed;
  }
  options.populate = args.Has("populate");
  return options;
}

Result<std::shared_ptr<const Model>> LoadModelWithProgress(const std::string& dir, bool quiet,
                                                           const BindOptions& options) {
  constexpr int kWidth = 40;
  // A bar redrawn in place only makes sense on a terminal; piped output
  // stays as the command's contract has it.
  const bool bar = !quiet && ::isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  int drawn = -1;
  auto model = Model::Load(dir, options, [&](float done) {
    if (!bar) return;
    const int filled = static_cast<int>(done * kWidth + 0.5f);
    if (filled == drawn) return;
    drawn = filled;
    std::fprintf(stderr, "\rloading %s [%.*s%*s] %3d%%", dir.c_str(), filled,
                 "========================================", kWidth - filled, "",
                 static_cast<int>(done * 100.0f + 0.5f));
    std::fflush(stderr);
  });
  if (drawn >= 0) std::fprintf(stderr, "\n");
  if (!model.ok()) return model.status();
  if (bar)
    std::fprintf(stderr, "loaded in %.2f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return std::shared_ptr<const Model>(std::move(model).value());
}

Result<std::shared_ptr<const Tokenizer>> LoadTokenizerFrom(const std::string& dir) {
  auto tokenizer = Tokenizer::Load(dir);
  if (!tokenizer.ok())
    return tokenizer.status().WithContext("tokenizer (tokenizer.json in " + dir +
                                          "; --tokenizer DIR names another directory)");
  return std::shared_ptr<const Tokenizer>(std::move(tokenizer).value());
}

}  // namespace dsv32::cli
