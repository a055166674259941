// dsv32 info: what a model directory holds and what its context costs.
#include <cstdio>

#include "args.h"
#include "attention/kv_layout.h"
#include "command.h"
#include "model/model.h"
#include "model/model_info.h"

namespace dsv32::cli {
namespace {

std::string Human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", bytes, units[u]);
  return buf;
}

int RunInfo(int argc, char** argv) {
  Args args(argc, argv, {"model"}, {});
  const std::string dir = args.Require("model");
  if (!args.ok()) return Fail("info", args.error());
  auto model = Model::Load(dir);
  if (!model.ok()) return Fail("info", model.status().message());
  const ModelConfig& c = (*model)->config();
  const CheckpointSummary s = SummarizeCheckpoint(c, (*model)->checkpoint());

  std::printf("model            %s (%s)\n", dir.c_str(), c.model_type.c_str());
  std::printf("layers           %lld (%lld dense, then MoE), %lld MTP\n",
              static_cast<long long>(c.num_hidden_layers),
              static_cast<long long>(std::min(c.first_k_dense_replace, c.num_hidden_layers)),
              static_cast<long long>((*model)->weights().mtp.size()));
  std::printf("hidden           %lld, vocab %lld, max positions %lld\n",
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.vocab_size),
              static_cast<long long>(c.max_position_embeddings));
  std::printf("attention        MLA, %lld heads, q_lora_rank %lld, kv_lora_rank %lld, "
              "qk_nope %lld + qk_rope %lld, v %lld\n",
              static_cast<long long>(c.num_attention_heads),
              static_cast<long long>(c.q_lora_rank.value_or(0)),
              static_cast<long long>(c.kv_lora_rank), static_cast<long long>(c.qk_nope_head_dim),
              static_cast<long long>(c.qk_rope_head_dim), static_cast<long long>(c.v_head_dim));
  if (c.has_indexer)
    std::printf("indexer (DSA)    %lld heads x %lld, top-%lld\n",
                static_cast<long long>(c.index_n_heads), static_cast<long long>(c.index_head_dim),
                static_cast<long long>(c.index_topk));
  else
    std::printf("indexer (DSA)    none (dense attention)\n");
  if (c.n_routed_experts > 0)
    std::printf("MoE              %lld routed (top-%lld of %lld groups, %lld per token) + %lld "
                "shared, scaling %.2f\n",
                static_cast<long long>(c.n_routed_experts), static_cast<long long>(c.topk_group),
                static_cast<long long>(c.n_group), static_cast<long long>(c.num_experts_per_tok),
                static_cast<long long>(c.n_shared_experts), c.routed_scaling_factor);
  std::printf("rope             %s\n",
              c.rope_scaling.type.empty() ? "plain" : ("yarn, factor " + std::to_string(c.rope_scaling.factor)).c_str());
  std::printf("parameters       %lld (%.3f B), of which MTP %lld\n",
              static_cast<long long>(s.parameters), static_cast<double>(s.parameters) / 1e9,
              static_cast<long long>(s.mtp_parameters));
  std::printf("weights on disk  %s\n", Human(static_cast<double>(s.total_bytes)).c_str());
  for (const auto& [dtype, bytes] : s.bytes_by_dtype)
    std::printf("  %-14s %s\n", dtype.c_str(), Human(static_cast<double>(bytes)).c_str());
  std::printf("KV bytes/token ");
  for (KvLayout layout : {KvLayout::kF32, KvLayout::kBf16, KvLayout::kFp8})
    std::printf(" %s %lld;", std::string(KvLayoutName(layout)).c_str(),
                static_cast<long long>(KvBytesPerToken(c, layout)));
  std::printf("\n");
  return 0;
}

DSV32_CLI_COMMAND("info", "config summary, parameters, bytes by dtype, KV bytes per token (--model DIR)",
                  RunInfo);

}  // namespace
}  // namespace dsv32::cli
