// dsv32 init-random: writes a deterministic random-weight checkpoint.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "args.h"
#include "command.h"
#include "model/demo_config.h"
#include "model/random_init.h"

namespace dsv32::cli {
namespace {

int RunInitRandom(int argc, char** argv) {
  Args args(argc, argv, {"config", "out", "seed", "dtype"}, {"quiet"});
  const std::string out = args.Require("out");
  const int64_t seed = args.Int("seed", 0);
  if (!args.ok()) return Fail("init-random", args.error());

  std::string config_json = DemoConfigJson();
  if (auto path = args.Get("config")) {
    std::ifstream in(*path);
    if (!in) return Fail("init-random", "cannot read config '" + *path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    config_json = ss.str();
  }
  RandomInitOptions options;
  options.seed = static_cast<uint64_t>(seed);
  const std::string dtype = args.Get("dtype").value_or("fp8");
  if (dtype == "fp8") {
    options.dtype = InitDType::kFp8;
  } else if (dtype == "bf16") {
    options.dtype = InitDType::kBf16;
  } else {
    return Fail("init-random", "--dtype must be fp8 or bf16, got '" + dtype + "'");
  }
  const bool quiet = args.Has("quiet");
  options.progress = [quiet](size_t done, size_t total) {
    if (quiet) return;
    if (done == total || done % 64 == 0)
      std::fprintf(stderr, "\rwriting tensors: %zu / %zu", done, total);
    if (done == total) std::fprintf(stderr, "\n");
  };
  Status s = WriteRandomCheckpoint(config_json, out, options);
  if (!s.ok()) return Fail("init-random", s.message());
  if (!quiet)
    std::fprintf(stderr, "wrote a random-weight %s checkpoint to %s (seed %lld)\n", dtype.c_str(),
                 out.c_str(), static_cast<long long>(seed));
  return 0;
}

DSV32_CLI_COMMAND("init-random",
                  "write a deterministic random-weight checkpoint (--config C --out DIR "
                  "[--seed S] [--dtype fp8|bf16])",
                  RunInitRandom);

}  // namespace
}  // namespace dsv32::cli
