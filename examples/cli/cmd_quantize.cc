// dsv32 quantize: converts a checkpoint directory to INT4, FP8 or BF16
// weights, streaming tensor by tensor.
#include <cstdio>

#include "args.h"
#include "command.h"
#include "core/thread_pool.h"
#include "model/quantize_checkpoint.h"

namespace dsv32::cli {
namespace {

int RunQuantize(int argc, char** argv) {
  Args args(argc, argv, {"model", "out", "to", "group", "threads"}, {"zero-point", "quiet"});
  const std::string in = args.Require("model");
  const std::string out = args.Require("out");
  const std::string to = args.Require("to");
  const int64_t group = args.Int("group", 32);
  const int64_t threads = args.Int("threads", 0);
  if (!args.ok()) return Fail("quantize", args.error());

  QuantizeOptions options;
  if (to == "int4") {
    options.target = QuantizeTarget::kInt4;
  } else if (to == "fp8") {
    options.target = QuantizeTarget::kFp8;
  } else if (to == "bf16") {
    options.target = QuantizeTarget::kBf16;
  } else {
    return Fail("quantize", "--to must be int4, fp8 or bf16, got '" + to + "'");
  }
  if (group != 32 && group != 128) return Fail("quantize", "--group must be 32 or 128");
  options.group = group;
  options.zero_point = args.Has("zero-point");
  ThreadPool pool(threads > 0 ? static_cast<int>(threads) : DefaultThreadCount());
  options.pool = &pool;
  const bool quiet = args.Has("quiet");
  options.progress = [quiet](size_t done, size_t total, const std::string& name) {
    if (quiet) return;
    std::fprintf(stderr, "\r[%zu/%zu] %-70.70s", done, total, name.c_str());
    if (done == total) std::fprintf(stderr, "\n");
  };
  Status s = QuantizeCheckpoint(in, out, options);
  if (!s.ok()) {
    if (!quiet) std::fprintf(stderr, "\n");
    return Fail("quantize", s.message());
  }
  if (!quiet) std::fprintf(stderr, "wrote %s (%s)\n", out.c_str(), to.c_str());
  return 0;
}

DSV32_CLI_COMMAND("quantize",
                  "convert weights: --model IN --out OUT --to int4|fp8|bf16 [--group 32|128] "
                  "[--zero-point]",
                  RunQuantize);

}  // namespace
}  // namespace dsv32::cli
