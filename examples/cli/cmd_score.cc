// dsv32 score: teacher-forced logits for a token sequence. The first
// prefill_len tokens run as one prefill batch, the rest one token at a time
// through the KV cache, exactly as generation would see them.
//
// --kv-dtype picks the cache layout (f32, the exact reference, by default).
// --save-cache writes the cache after the prefill; --load-cache restores
// such a file instead of prefilling (its tokens must be the first
// prefill_len input ids), so only the decoded rows of `logits` are
// computed and the prefill rows are left zero.
#include <algorithm>
#include <cstdio>

#include "args.h"
#include "attention/kv_file.h"
#include "attention/kv_layout.h"
#include "command.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model_loading.h"
#include "score_mesh.h"

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
  Args args(argc, argv,
            {"model", "input", "out", "threads", "kv-dtype", "save-cache", "load-cache", "mesh",
             "backend", "activations"},
            {"stats"});
  const std::string model_dir = args.Require("model");
  const std::string input = args.Require("input");
  const std::string out = args.Require("out");
  const int64_t threads = args.Int("threads", 0);
  const std::string save_cache = args.Get("save-cache").value_or("");
  const std::string load_cache = args.Get("load-cache").value_or("");
  if (!args.ok()) return Fail("score", args.error());
  if (threads < 0) return Fail("score", "--threads must be >= 0");
  auto layout = ParseKvLayout(args.Get("kv-dtype").value_or("f32"));
  if (!layout.ok()) return Fail("score", layout.status().message());
  if (!save_cache.empty() && !load_cache.empty())
    return Fail("score", "--save-cache and --load-cache exclude each other");

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
    return Fail("score",
                "prefill_len " + std::to_string(P) + " is outside [0, " + std::to_string(T) + "]");

  if (args.Has("mesh") && (args.Has("kv-dtype") || !save_cache.empty() || !load_cache.empty()))
    return Fail("score", "--mesh runs with the f32 cache; --kv-dtype, --save-cache and "
                         "--load-cache are single-device options");
  if (args.Has("mesh") && args.Has("activations"))
    return Fail("score",
                "--mesh runs with f32 activations; --activations is a single-device option");
  if (args.Has("mesh"))
    return RunScoreMesh({model_dir, out, *args.Get("mesh"),
                         args.Get("backend").value_or("inprocess"), args.Has("stats"),
                         std::move(ids).value(), P});
  if (args.Has("backend") || args.Has("stats"))
    return Fail("score", "--backend and --stats go with --mesh");

  auto bind = BindOptionsFromArgs(args);
  if (!bind.ok()) return Fail("score", bind.status().message());
  auto model = Model::Load(model_dir, *bind);
  if (!model.ok()) return Fail("score", model.status().message());
  const ModelConfig& c = (*model)->config();
  ThreadPool pool(threads ? static_cast<int>(threads) : DefaultThreadCount());
  KvPoolOptions pool_options;
  pool_options.layout = *layout;
  const int64_t pages = (T + pool_options.page_tokens - 1) / pool_options.page_tokens;
  pool_options.budget_bytes = pages * KvPagePool::PageBytes(c, pool_options);
  auto kv_pool = KvPagePool::Create(c, pool_options);
  if (!kv_pool.ok()) return Fail("score", kv_pool.status().message());
  KvCache cache(*kv_pool, c, T);
  std::vector<float> logits(static_cast<size_t>(T * c.vocab_size));
  ForwardOptions options;
  std::span<const int32_t> tokens(*ids);
  const std::span<const int32_t> prompt = tokens.first(static_cast<size_t>(P));
  if (!load_cache.empty()) {
    auto cached = LoadSequenceCache(load_cache, (*model)->config_hash(), &cache);
    if (!cached.ok()) return Fail("score", cached.status().message());
    if (!std::equal(cached->begin(), cached->end(), prompt.begin(), prompt.end()))
      return Fail("score", load_cache + ": the cached tokens are not the first prefill_len (" +
                               std::to_string(P) + ") input ids");
  } else if (P > 0) {
    Status s = (*model)->Forward(&cache, prompt, 0, &pool, options, logits.data());
    if (!s.ok()) return Fail("score", s.message());
  }
  if (!save_cache.empty()) {
    Status s = SaveSequenceCache(save_cache, (*model)->config_hash(), cache, prompt);
    if (!s.ok()) return Fail("score", s.message());
  }
  for (int64_t i = P; i < T; ++i) {
    Status s = (*model)->Forward(&cache, tokens.subspan(static_cast<size_t>(i), 1), i, &pool,
                                 options, &logits[static_cast<size_t>(i * c.vocab_size)]);
    if (!s.ok()) return Fail("score", s.message());
  }
  Status s = WriteSafetensors(
      out,
      {{"logits", DType::kF32, {T, c.vocab_size}, logits.data(), logits.size() * sizeof(float)}});
  if (!s.ok()) return Fail("score", s.message());
  return 0;
}

DSV32_CLI_COMMAND("score",
                  "teacher-forced logits: --model DIR --input IN.safetensors --out "
                  "OUT.safetensors [--threads N] [--kv-dtype f32|bf16|fp8] "
                  "[--save-cache FILE | --load-cache FILE] "
                  "[--mesh tp=T,ep=E,dp=D [--backend inprocess|mpi] [--stats]]",
                  RunScore);

}  // namespace
}  // namespace dsv32::cli
