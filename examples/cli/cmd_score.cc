// dsv32 score: teacher-forced logits for a token sequence. The first
// prefill_len tokens run as one prefill batch, the rest one token at a time
// through the KV cache, exactly as generation would see them.
#include <cstdio>

#include "args.h"
#include "command.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace dsv32::cli {
namespace {

Result<std::vector<int32_t>> ReadI32(const SafetensorsFile& file, const std::string& name) {
  const TensorView* v = file.Find(name);
  if (!v) return NotFound(file.path() + ": no tensor '" + name + "'");
  if (v->dtype != DType::kI32)
    return InvalidArgument(file.path() + ": '" + name + "' must be I32, is " +
                           std::string(DTypeName(v->dtype)));
  if (v->rank() != 1)
    return InvalidArgument(file.path() + ": '" + name + "' must be 1-D, has shape " +
                           ShapeToString(v->shape));
  return std::vector<int32_t>(v->as<int32_t>(), v->as<int32_t>() + v->numel());
}

int RunScore(int argc, char** argv) {
  Args args(argc, argv, {"model", "input", "out", "threads"}, {});
  const std::string model_dir = args.Require("model");
  const std::string input = args.Require("input");
  const std::string out = args.Require("out");
  const int64_t threads = args.Int("threads", 0);
  if (!args.ok()) return Fail("score", args.error());
  if (threads < 0) return Fail("score", "--threads must be >= 0");

  auto file = SafetensorsFile::Open(input);
  if (!file.ok()) return Fail("score", file.status().message());
  auto ids = ReadI32(**file, "input_ids");
  if (!ids.ok()) return Fail("score", ids.status().message());
  auto prefill = ReadI32(**file, "prefill_len");
  if (!prefill.ok()) return Fail("score", prefill.status().message());
  const auto T = static_cast<int64_t>(ids->size());
  if (T == 0) return Fail("score", "input_ids is empty");
  if (prefill->size() != 1) return Fail("score", "prefill_len must hold one value");
  const int64_t P = (*prefill)[0];
  if (P < 0 || P > T)
    return Fail("score", "prefill_len " + std::to_string(P) + " is outside [0, " +
                             std::to_string(T) + "]");

  auto model = Model::Load(model_dir);
  if (!model.ok()) return Fail("score", model.status().message());
  const ModelConfig& c = (*model)->config();
  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());
  KvCache cache(c, T);
  std::vector<float> logits(static_cast<size_t>(T * c.vocab_size));
  ForwardOptions options;
  std::span<const int32_t> tokens(*ids);
  if (P > 0) {
    Status s = (*model)->Forward(&cache, tokens.first(static_cast<size_t>(P)), 0, &pool, options,
                                 logits.data());
    if (!s.ok()) return Fail("score", s.message());
  }
  for (int64_t i = P; i < T; ++i) {
    Status s = (*model)->Forward(&cache, tokens.subspan(static_cast<size_t>(i), 1), i, &pool,
                                 options, &logits[static_cast<size_t>(i * c.vocab_size)]);
    if (!s.ok()) return Fail("score", s.message());
  }
  Status s = WriteSafetensors(out, {{"logits", DType::kF32, {T, c.vocab_size}, logits.data(),
                                     logits.size() * sizeof(float)}});
  if (!s.ok()) return Fail("score", s.message());
  return 0;
}

DSV32_CLI_COMMAND("score",
                  "teacher-forced logits: --model DIR --input IN.safetensors --out "
                  "OUT.safetensors [--threads N]",
                  RunScore);

}  // namespace
}  // namespace dsv32::cli
